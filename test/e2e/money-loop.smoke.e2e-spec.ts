import { randomUUID } from 'node:crypto';
import { bearer, SPEND } from '../support/auth';
import { Stack, startStack } from '../support/stack';
import { buySavingCard, enable, entries, newOrg, refills, until } from './auto-refill/helpers';
import { createSession, expectLedgerConsistent, payloadOf, payQuietly, postWebhook } from './fulfilment/helpers';
import { debit, debitBatch } from './usage/kit';

/**
 * The whole money loop on one org, through HTTP and the Stripe emulator: a purchase granted
 * once however often its webhook comes, debits (one, a replay, a batch), a hold captured and
 * one released, an auto-refill charged off-session and granted once, and a refund taken back.
 * `npm test` runs it on PostgreSQL with every other suite, and again on PGlite (the `pglite`
 * project), where the feature suites do not run a second time.
 */
describe('the money loop, end to end', () => {
  let s: Stack;
  let admin: string;
  let spender: string;
  let orgId: string;
  const slug = 'loop';
  const credits = `/api/v1/org/${slug}/credits`;

  const balance = async () => (await s.request('GET', credits, { headers: bearer(admin) })).body;

  beforeAll(async () => {
    s = await startStack();
    ({ key: admin, orgId } = await newOrg(s, slug));
    spender = await s.member(slug, `host@${slug}.test`, 'member', SPEND);
  });
  afterAll(() => s?.close());
  afterEach(() => expectLedgerConsistent(s.db));

  it('a purchase is granted once, whatever the number of deliveries', async () => {
    const sessionId = await createSession(s, admin, slug, 2);
    const paid = await payQuietly(s, sessionId);
    const payload = await payloadOf(s, paid.eventId);
    const answers = await Promise.all([postWebhook(s, payload), postWebhook(s, payload)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect((await postWebhook(s, payload)).status).toBe(200);
    expect(await entries(s, orgId, 'purchase')).toEqual([
      expect.objectContaining({ amount: 2000, source_ref: expect.stringContaining(sessionId) }),
    ]);
    expect(await balance()).toMatchObject({ balance: 2000 });
  });

  it('a debit is spent once per idempotency key; a batch spends each item', async () => {
    const key = randomUUID();
    const first = await debit(s, spender, slug, { amount: 150, description: 'run 1' }, key);
    const replay = await debit(s, spender, slug, { amount: 150, description: 'run 1' }, key);
    expect(first.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    const batch = await debitBatch(s, spender, slug, [
      { amount: 25, description: 'a', idempotency_key: randomUUID() },
      { amount: 25, description: 'b', idempotency_key: randomUUID() },
    ]);
    expect(batch.status).toBe(200);
    expect(await balance()).toMatchObject({ balance: 1800 });
    const tooMuch = await debit(s, spender, slug, { amount: 1_000_000, description: 'too much' });
    expect(tooMuch.status).toBe(402);
    expect(await balance()).toMatchObject({ balance: 1800 });
  });

  it('a hold reserves credits; capture spends part of it, release gives another back', async () => {
    const hold = (amount: number) =>
      s.request('POST', `${credits}/holds`, {
        headers: bearer(spender, { 'idempotency-key': randomUUID() }),
        body: { amount },
      });
    const captured = await hold(300);
    const released = await hold(200);
    expect([captured.status, released.status]).toEqual([201, 201]);
    expect(await balance()).toMatchObject({ balance: 1800, available_balance: 1300 });
    const capture = await s.request('POST', `${credits}/holds/${captured.body.id}/capture`, {
      headers: bearer(spender),
      body: { amount: 120 },
    });
    expect(capture.body).toMatchObject({
      hold: { status: 'captured', captured_amount: 120 },
      transaction: { amount: -120, transaction_type: 'usage' },
    });
    const release = await s.request('POST', `${credits}/holds/${released.body.id}/release`, {
      headers: bearer(spender),
    });
    expect(release.body).toMatchObject({ hold: { status: 'released', captured_amount: null } });
    expect(await balance()).toMatchObject({ balance: 1680, available_balance: 1680 });
  });

  it('a debit below the auto-refill threshold charges the saved card once and grants it once', async () => {
    await buySavingCard(s, admin, slug); // 1,680 + 1,000
    await enable(s, admin, slug, { threshold: 2650 });
    const below = await debit(s, spender, slug, { amount: 100, description: 'below the threshold' });
    expect(below.status).toBe(200);
    await until('the refill succeeded', async () => (await refills(s, orgId))[0]?.status === 'succeeded');
    await until('the refill granted', async () => (await entries(s, orgId, 'auto_refill')).length === 1);
    expect(await refills(s, orgId)).toHaveLength(1);
    expect(await balance()).toMatchObject({ balance: 2680 - 100 + 1000 });
  });

  it('a refund takes the refunded credits back', async () => {
    const sessionId = await createSession(s, admin, slug);
    const paid = await payQuietly(s, sessionId);
    expect((await postWebhook(s, await payloadOf(s, paid.eventId))).status).toBe(200);
    const before = (await balance()).balance;
    await s.control('POST', `/charges/${paid.chargeId}/refund`, {});
    await until('the refund taken back', async () => (await entries(s, orgId, 'refund')).length === 1);
    expect(await entries(s, orgId, 'refund')).toEqual([expect.objectContaining({ amount: -1000 })]);
    expect(await balance()).toMatchObject({ balance: before - 1000 });
  });
});
