import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { creditGrants, creditHolds, creditLedger, notificationEvents, usageRecords } from '@credits/database';
import { bearer } from '../../support/auth';
import { startTestApp, TestApp } from '../../support/test-app';
import { expectLedgerConsistent } from '../fulfilment/helpers';
import { credits, debit, debitBatch, grant, orgId, serviceSpender, spender, usagePath } from './kit';

const THRESHOLD = 100;

/** §1.1 usage debits: the single and batch routes, their validation, idempotency and the available balance. */
describe('POST /api/v1/org/{org}/credits/usage', () => {
  let t: TestApp;
  let n = 0;

  /** A fresh org with `balance` credits and a key that may spend them. */
  const newOrg = async (balance: number) => {
    const slug = `usage-${++n}-${randomUUID().slice(0, 6)}`;
    const key = await spender(t.db, slug);
    if (balance > 0) await grant(t.app, t.db, slug, balance);
    return { slug, key, id: await orgId(t.db, slug) };
  };
  const ledgerOf = (id: string) =>
    t.db.select().from(creditLedger).where(eq(creditLedger.orgId, id)).orderBy(creditLedger.seq);
  const recordsOf = (id: string) => t.db.select().from(usageRecords).where(eq(usageRecords.orgId, id));

  beforeAll(async () => {
    t = await startTestApp({ env: { LOW_BALANCE_THRESHOLD: String(THRESHOLD) } });
  });
  afterAll(() => t?.close());
  afterEach(() => expectLedgerConsistent(t.db));

  it('debits and answers {transaction, balance, available_balance, debited, shortfall}', async () => {
    const org = await newOrg(1000);
    const res = await debit(t, org.key, org.slug, {
      amount: 250,
      description: 'Sandbox minutes',
      metadata: { sandbox: 'sbx_1' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    expect(res.body).toEqual({
      transaction: {
        id: expect.any(String),
        amount: -250,
        balance_after: 750,
        transaction_type: 'usage',
        description: 'Sandbox minutes',
        created_at: expect.any(String),
        checkout_session_id: null,
        receipt_url: null,
      },
      balance: 750,
      available_balance: 750,
      debited: 250,
      shortfall: 0,
    });
    // The transaction is the ledger's entry as GET /credits/transactions presents it.
    const page = await t.request('GET', `/api/v1/org/${org.slug}/credits/transactions?limit=1`, {
      headers: bearer(org.key),
    });
    expect(page.body.data[0]).toEqual(res.body.transaction);
    const [entry] = (await ledgerOf(org.id)).slice(-1);
    expect(entry.metadata).toEqual({ sandbox: 'sbx_1' });
    expect(entry.sourceRef).toMatch(/^usage:[0-9a-f-]{36}$/);
    expect((await credits(t, org.key, org.slug)).body).toMatchObject({ balance: 750, available_balance: 750, held: 0 });
  });

  it('402 insufficient_credits_error past the available balance, with nothing written or recorded', async () => {
    const org = await newOrg(100);
    const key = randomUUID();
    const res = await debit(t, org.key, org.slug, { amount: 101 }, key);
    expect(res.status).toBe(402);
    expect(res.body).toEqual({
      code: 402,
      type: 'insufficient_credits_error',
      detail: expect.any(String),
      errors: null,
    });
    expect(await ledgerOf(org.id)).toHaveLength(1);
    expect(await recordsOf(org.id)).toEqual([]);
    // Not recorded: after a top-up the same key succeeds.
    await grant(t.app, t.db, org.slug, 1);
    const retry = await debit(t, org.key, org.slug, { amount: 101 }, key);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ balance: 0, debited: 101, shortfall: 0 });
  });

  it('replays the first answer for the same key and body, with Idempotent-Replayed, debiting once', async () => {
    const org = await newOrg(500);
    const key = randomUUID();
    const body = { amount: 40, metadata: { b: '2', a: '1' } };
    const first = await debit(t, org.key, org.slug, body, key);
    // The host's service key, same key: keys are per org, whoever sends them.
    const other = await serviceSpender(t.db, org.slug);
    const again = await debit(t, other, org.slug, { metadata: { a: '1', b: '2' }, amount: 40 }, key);
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect((await credits(t, org.key, org.slug)).body.balance).toBe(460);
    expect(await recordsOf(org.id)).toHaveLength(1);
  });

  it('keeps a key for 30 days: after that the same key is a new debit', async () => {
    const org = await newOrg(100);
    const key = randomUUID();
    const first = await debit(t, org.key, org.slug, { amount: 10 }, key);
    const [record] = await recordsOf(org.id);
    expect(record.expiresAt.getTime() - record.createdAt.getTime()).toBe(30 * 24 * 3600 * 1000);
    await t.db
      .update(usageRecords)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(usageRecords.orgId, org.id));
    const again = await debit(t, org.key, org.slug, { amount: 10 }, key);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(again.body.transaction.id).not.toBe(first.body.transaction.id);
    expect(again.body.balance).toBe(80);
    expect(await recordsOf(org.id)).toHaveLength(1);
  });

  it('409 conflict_error for the same key with another body', async () => {
    const org = await newOrg(500);
    const key = randomUUID();
    expect((await debit(t, org.key, org.slug, { amount: 40 }, key)).status).toBe(200);
    for (const body of [{ amount: 41 }, { amount: 40, description: 'x' }, { amount: 40, allow_partial: true }]) {
      const res = await debit(t, org.key, org.slug, body, key);
      expect(res.status).toBe(409);
      expect(res.body.type).toBe('conflict_error');
    }
    expect((await credits(t, org.key, org.slug)).body.balance).toBe(460);
  });

  it.each([
    ['zero', 0, 'greater_than_equal'],
    ['negative', -5, 'greater_than_equal'],
    ['a fraction', 1.5, 'int_type'],
    ['a string', '10', 'int_type'],
    ['over 10^9', 1_000_000_001, 'less_than_equal'],
    ['missing', undefined, 'missing'],
  ])('422 validation_error when amount is %s, nothing written', async (_name, amount, type) => {
    const org = await newOrg(2_000_000_000);
    const res = await debit(t, org.key, org.slug, amount === undefined ? {} : { amount });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 422, type: 'validation_error' });
    expect(res.body.errors).toContainEqual(expect.objectContaining({ loc: ['body', 'amount'], type }));
    expect(await recordsOf(org.id)).toEqual([]);
  });

  it('accepts the largest amount, 10^9', async () => {
    const org = await newOrg(1_000_000_000);
    const res = await debit(t, org.key, org.slug, { amount: 1_000_000_000 });
    expect(res.status).toBe(200);
    expect(res.body.balance).toBe(0);
  });

  it('422 on description and metadata past their bounds', async () => {
    const org = await newOrg(100);
    const cases: [unknown, string][] = [
      [{ amount: 1, description: 'x'.repeat(501) }, 'description'],
      [{ amount: 1, metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])) }, 'metadata'],
      [{ amount: 1, metadata: { ['k'.repeat(41)]: 'v' } }, 'metadata'],
      [{ amount: 1, metadata: { k: 'v'.repeat(501) } }, 'metadata'],
      [{ amount: 1, metadata: { k: 1 } }, 'metadata'],
      [{ amount: 1, metadata: ['v'] }, 'metadata'],
      [{ amount: 1, allow_partial: 'yes' }, 'allow_partial'],
      [{ amount: 1, extra: 1 }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const res = await debit(t, org.key, org.slug, body);
      expect(res.status).toBe(422);
      expect(res.body.errors).toContainEqual(expect.objectContaining({ loc: ['body', field] }));
    }
    const ok = await debit(t, org.key, org.slug, {
      amount: 1,
      description: 'x'.repeat(500),
      metadata: Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [`${'k'.repeat(38)}${i}`.slice(-40), 'v'.repeat(500)]),
      ),
    });
    expect(ok.status).toBe(200);
  });

  it('requires the Idempotency-Key header: 422 at ["header","idempotency-key"]', async () => {
    const org = await newOrg(100);
    const missing = await debit(t, org.key, org.slug, { amount: 1 }, null);
    expect(missing.status).toBe(422);
    expect(missing.body).toMatchObject({
      type: 'validation_error',
      errors: [{ loc: ['header', 'idempotency-key'], type: 'missing', msg: expect.any(String) }],
    });
    const long = await debit(t, org.key, org.slug, { amount: 1 }, 'k'.repeat(256));
    expect(long.status).toBe(422);
    expect(long.body.errors[0]).toMatchObject({ loc: ['header', 'idempotency-key'], type: 'string_too_long' });
    expect(await recordsOf(org.id)).toEqual([]);
  });

  it('allow_partial debits what is available and reports debited and shortfall; the answer is replayed', async () => {
    const org = await newOrg(30);
    const key = randomUUID();
    const res = await debit(t, org.key, org.slug, { amount: 50, allow_partial: true }, key);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ balance: 0, available_balance: 0, debited: 30, shortfall: 20 });
    expect(res.body.transaction).toMatchObject({ amount: -30, balance_after: 0 });
    // Nothing left: a debit of 0, no entry, still recorded for its key.
    const empty = await debit(t, org.key, org.slug, { amount: 5, allow_partial: true });
    expect(empty.body).toEqual({ transaction: null, balance: 0, available_balance: 0, debited: 0, shortfall: 5 });
    const replay = await debit(t, org.key, org.slug, { amount: 50, allow_partial: true }, key);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(res.body);
    expect((await ledgerOf(org.id)).map((e) => e.amount)).toEqual([30, -30]);
    // Fully covered, allow_partial changes nothing.
    await grant(t.app, t.db, org.slug, 10);
    const covered = await debit(t, org.key, org.slug, { amount: 4, allow_partial: true });
    expect(covered.body).toMatchObject({ debited: 4, shortfall: 0, balance: 6 });
  });

  it('counts active, unexpired holds: GET /credits reports held and available_balance, and debits stop there', async () => {
    const org = await newOrg(1000);
    const inAnHour = new Date(Date.now() + 3_600_000);
    // Each hold drew from the org's one grant.
    const [{ id: grantId }] = await t.db.select().from(creditGrants).where(eq(creditGrants.orgId, org.id));
    const drew = (amount: number) => ({ amount, draws: [{ grant_id: grantId, amount }] });
    await t.db.insert(creditHolds).values([
      { orgId: org.id, ...drew(300), status: 'active', expiresAt: inAnHour },
      { orgId: org.id, ...drew(100), status: 'active', expiresAt: inAnHour },
      // Expired by time though no sweeper marked it, released, captured: none counts.
      { orgId: org.id, ...drew(50), status: 'active', expiresAt: new Date(Date.now() - 1000) },
      { orgId: org.id, ...drew(70), status: 'released', expiresAt: inAnHour },
      { orgId: org.id, ...drew(80), status: 'captured', capturedAmount: 80, expiresAt: inAnHour },
    ]);
    const before = await credits(t, org.key, org.slug);
    expect(before.body).toEqual({
      balance: 1000,
      available_balance: 600,
      held: 400,
      expiring: null,
      is_low_balance: false,
      auto_refill_enabled: false,
    });
    expect((await debit(t, org.key, org.slug, { amount: 601 })).status).toBe(402);
    const ok = await debit(t, org.key, org.slug, { amount: 600 });
    expect(ok.body).toMatchObject({ balance: 400, available_balance: 0, debited: 600 });
    const partial = await debit(t, org.key, org.slug, { amount: 10, allow_partial: true });
    expect(partial.body).toMatchObject({ balance: 400, available_balance: 0, debited: 0, shortfall: 10 });
    expect((await credits(t, org.key, org.slug)).body).toMatchObject({ balance: 400, available_balance: 0, held: 400 });
  });

  it('writes the low-balance and depleted notifications its entries cause', async () => {
    const org = await newOrg(THRESHOLD + 50);
    await debit(t, org.key, org.slug, { amount: 49 }); // 101: not low yet
    await debit(t, org.key, org.slug, { amount: 2 }); // 99: crosses
    await debit(t, org.key, org.slug, { amount: 99 }); // 0: depleted
    const types = (
      await t.db
        .select({ type: notificationEvents.type })
        .from(notificationEvents)
        .where(eq(notificationEvents.orgId, org.id))
    ).map((e) => e.type);
    expect(types.sort()).toEqual(['credits.depleted', 'credits.low_balance']);
  });

  it('404 for an org the caller is not a member of', async () => {
    const org = await newOrg(100);
    const outsider = await newOrg(100);
    const res = await debit(t, outsider.key, org.slug, { amount: 1 });
    expect(res.status).toBe(404);
    expect((await credits(t, org.key, org.slug)).body.balance).toBe(100);
  });

  it('concurrent debits of one org never overdraw and each applies once', async () => {
    const org = await newOrg(1000);
    const keys = Array.from({ length: 60 }, () => randomUUID());
    const results = await Promise.all(
      [...keys, ...keys.slice(0, 20)].map((key) => debit(t, org.key, org.slug, { amount: 30 }, key)),
    );
    expect(results.every((r) => r.status === 200 || r.status === 402)).toBe(true);
    const applied = await recordsOf(org.id);
    expect(applied).toHaveLength(33); // 33 × 30 = 990 ≤ 1000 < 34 × 30
    expect((await credits(t, org.key, org.slug)).body.balance).toBe(10);
  });

  it('concurrent debits of several orgs (grouped together) keep each org exact and apart', async () => {
    const orgs = await Promise.all([newOrg(100), newOrg(55), newOrg(0), newOrg(1000), newOrg(7)]);
    const sent = orgs.flatMap((org) =>
      Array.from({ length: 12 }, (_, i) => ({ org, amount: 1 + ((i * 7) % 10), key: randomUUID() })),
    );
    const results = await Promise.all(sent.map((d) => debit(t, d.org.key, d.org.slug, { amount: d.amount }, d.key)));
    expect(results.every((r) => r.status === 200 || r.status === 402)).toBe(true);
    for (const org of orgs) {
      const mine = sent.map((d, i) => ({ ...d, res: results[i] })).filter((d) => d.org === org);
      const debited = mine.filter((d) => d.res.status === 200).reduce((sum, d) => sum + d.amount, 0);
      const initial = (await ledgerOf(org.id)).filter((e) => e.transactionType !== 'usage')[0]?.amount ?? 0;
      expect((await credits(t, org.key, org.slug)).body.balance).toBe(initial - debited);
      expect((await recordsOf(org.id)).map((r) => r.idempotencyKey).sort()).toEqual(
        mine
          .filter((d) => d.res.status === 200)
          .map((d) => d.key)
          .sort(),
      );
      // A 402 only when what was left at that point could not cover it.
      const smallestRefused = Math.min(...mine.filter((d) => d.res.status === 402).map((d) => d.amount));
      if (Number.isFinite(smallestRefused)) expect(initial - debited).toBeLessThan(smallestRefused);
    }
  });

  describe('POST /credits/usage/batch', () => {
    it('applies items in order, each on its own: applied, duplicate, insufficient_credits, conflict', async () => {
      const org = await newOrg(100);
      const before = await debit(t, org.key, org.slug, { amount: 10 }, 'k-before');
      const res = await debitBatch(t, org.key, org.slug, [
        { idempotency_key: 'k1', amount: 50, description: 'first' },
        { idempotency_key: 'k-before', amount: 10 },
        { idempotency_key: 'k2', amount: 100 },
        { idempotency_key: 'k3', amount: 40 },
        { idempotency_key: 'k-before', amount: 11 },
        { idempotency_key: 'k1', amount: 50, description: 'first' },
        { idempotency_key: 'k1', amount: 50 },
        { idempotency_key: 'k4', amount: 1 },
      ]);
      expect(res.status).toBe(200);
      const ledger = await ledgerOf(org.id);
      const idOf = (amount: number) => ledger.find((e) => e.amount === -amount)!.id;
      const insufficient = { type: 'insufficient_credits_error', detail: expect.any(String) };
      const conflict = { type: 'conflict_error', detail: expect.any(String) };
      expect(res.body.results).toEqual([
        { idempotency_key: 'k1', status: 'applied', transaction_id: idOf(50), balance_after: 40, error: null },
        {
          idempotency_key: 'k-before',
          status: 'duplicate',
          transaction_id: before.body.transaction.id,
          balance_after: 90,
          error: null,
        },
        {
          idempotency_key: 'k2',
          status: 'insufficient_credits',
          transaction_id: null,
          balance_after: null,
          error: insufficient,
        },
        { idempotency_key: 'k3', status: 'applied', transaction_id: idOf(40), balance_after: 0, error: null },
        { idempotency_key: 'k-before', status: 'conflict', transaction_id: null, balance_after: null, error: conflict },
        { idempotency_key: 'k1', status: 'duplicate', transaction_id: idOf(50), balance_after: 40, error: null },
        { idempotency_key: 'k1', status: 'conflict', transaction_id: null, balance_after: null, error: conflict },
        {
          idempotency_key: 'k4',
          status: 'insufficient_credits',
          transaction_id: null,
          balance_after: null,
          error: insufficient,
        },
      ]);
      // In order: entries follow the items; the insufficient ones were not recorded.
      expect(ledger.map((e) => e.amount)).toEqual([100, -10, -50, -40]);
      expect((await recordsOf(org.id)).map((r) => r.idempotencyKey).sort()).toEqual(['k-before', 'k1', 'k3']);
      // The same key space as single debits: a batch item replays through the single route.
      const single = await debit(t, org.key, org.slug, { amount: 50, description: 'first' }, 'k1');
      expect(single.headers.get('idempotent-replayed')).toBe('true');
      expect(single.body.transaction.id).toBe(idOf(50));
    });

    it('422 for an empty or oversized batch, or a bad item, with the item in loc', async () => {
      const org = await newOrg(100);
      expect((await debitBatch(t, org.key, org.slug, [])).status).toBe(422);
      const big = Array.from({ length: 501 }, (_, i) => ({ idempotency_key: `k${i}`, amount: 1 }));
      expect((await debitBatch(t, org.key, org.slug, big)).status).toBe(422);
      const bad = await debitBatch(t, org.key, org.slug, [
        { idempotency_key: 'ok', amount: 1 },
        { idempotency_key: 'bad', amount: 1.5 },
        { amount: 1 },
      ]);
      expect(bad.status).toBe(422);
      expect(bad.body.errors).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ loc: ['body', 'items', 1, 'amount'], type: 'int_type' }),
          expect.objectContaining({ loc: ['body', 'items', 2, 'idempotency_key'], type: 'missing' }),
        ]),
      );
      expect(await recordsOf(org.id)).toEqual([]);
      const max = Array.from({ length: 500 }, (_, i) => ({ idempotency_key: `m${i}`, amount: 1 }));
      const ok = await debitBatch(t, org.key, org.slug, max);
      expect(ok.body.results.filter((r: { status: string }) => r.status === 'applied')).toHaveLength(100);
    });
  });

  it('takes credentials with credits:spend: 401 without, 403 for a member whose key lacks the scope', async () => {
    const org = await newOrg(10);
    const anonymous = await t.request('POST', usagePath(org.slug), { body: { amount: 1 } });
    expect(anonymous.status).toBe(401);
    const reader = await t.member(org.slug, `reader@${org.slug}.test`, 'owner');
    const refused = await debit(t, reader, org.slug, { amount: 1 });
    expect(refused.status).toBe(403);
    expect(refused.body.type).toBe('forbidden_error');
    expect((await debitBatch(t, reader, org.slug, [{ idempotency_key: 'k', amount: 1 }])).status).toBe(403);
    expect((await credits(t, org.key, org.slug)).body.balance).toBe(10);
  });
});
