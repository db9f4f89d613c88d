import { randomUUID } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import { AdminAdjustments, GrantExpirySchedule, LedgerService } from '@credits/billing';
import { creditGrants, creditLedger, notificationEvents, organizations, rows } from '@credits/database';
import { bearer, SPEND } from '../../support/auth';
import { envelope } from '../../support/envelope';
import { startTestApp, type TestApp } from '../../support/test-app';
import { expectLedgerConsistent } from '../fulfilment/helpers';

const DAY = 86_400;

/**
 * Credit grants (DESIGN §1.4) through HTTP, as the web app and the host backend see them, with
 * the operator's grants and voids made by the service the CLI calls. Runs on PGlite and, with
 * TEST_DATABASE_URL, on PostgreSQL. Time passes for a grant by moving its window back
 * (`age`): the database's clock decides expiry, and nothing here sleeps.
 */
describe('credit grants', () => {
  let t: TestApp;
  let key: string;
  let orgId: string;
  let slug: string;
  let n = 0;

  const adjustments = () => t.app.get(AdminAdjustments);
  const give = async (amount: number, terms: Parameters<AdminAdjustments['adjust']>[4] = {}, reason = 'test') => {
    const result = await adjustments().adjust(orgId, amount, reason, undefined, terms);
    return result.grantId!;
  };
  /** A purchase's grant, as fulfilment writes it (paid, never expiring by default). */
  const purchase = async (amount: number) => {
    const sourceRef = `purchase:cs_test_${randomUUID()}`;
    await t.db.transaction((tx) =>
      t.app.get(LedgerService).apply(tx, {
        orgId,
        amount,
        transactionType: 'purchase',
        description: `Purchase of ${amount} credits`,
        sourceRef,
      }),
    );
    const [grant] = await t.db.select().from(creditGrants).where(eq(creditGrants.sourceRef, sourceRef));
    return grant.id;
  };
  /**
   * As if `seconds` had passed for the org's grants and entries: their times (and the org's
   * next expiry) move back. Holds keep theirs, as if made just now.
   */
  const age = async (seconds: number) => {
    const back = sql`make_interval(secs => ${seconds})`;
    await t.db.execute(sql`
      update credit_grants set effective_at = effective_at - ${back}, expires_at = expires_at - ${back},
        created_at = created_at - ${back}, settled_at = settled_at - ${back}, voided_at = voided_at - ${back}
      where org_id = ${orgId}::uuid`);
    await t.db.execute(sql`update credit_ledger set created_at = created_at - ${back} where org_id = ${orgId}::uuid`);
    await t.db.execute(
      sql`update credit_balances set next_expiry_at = next_expiry_at - ${back} where org_id = ${orgId}::uuid`,
    );
  };
  const debit = (amount: number, idempotencyKey = randomUUID()) =>
    t.request('POST', `/api/v1/org/${slug}/credits/usage`, {
      headers: bearer(key, { 'idempotency-key': idempotencyKey }),
      body: { amount },
    });
  const credits = async () => (await t.request('GET', `/api/v1/org/${slug}/credits`, { headers: bearer(key) })).body;
  const grants = async (query = '') =>
    (await t.request('GET', `/api/v1/org/${slug}/credits/grants${query}`, { headers: bearer(key) })).body;
  const remaining = async (grantId: string) =>
    (await t.db.select().from(creditGrants).where(eq(creditGrants.id, grantId)))[0].remaining;
  const ledger = () =>
    t.db.select().from(creditLedger).where(eq(creditLedger.orgId, orgId)).orderBy(asc(creditLedger.seq));
  const events = async (type: string) =>
    t.db
      .select()
      .from(notificationEvents)
      .where(and(eq(notificationEvents.orgId, orgId), eq(notificationEvents.type, type as never)));

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  beforeEach(async () => {
    slug = `grants-${++n}`;
    key = await t.member(slug, `host@${slug}.test`, 'member', SPEND);
    [{ id: orgId }] = await t.db.select().from(organizations).where(eq(organizations.slug, slug));
  });
  afterEach(() => expectLedgerConsistent(t.db));

  it('the web app story: a 30-day sign-up bonus is spent before paid credits, then expires, and a void', async () => {
    const bonus = await give(500, { category: 'promotional', expiry: { afterSeconds: 30 * DAY } }, 'Sign-up bonus');
    const paid = await purchase(1000);
    expect(await credits()).toMatchObject({
      balance: 1500,
      available_balance: 1500,
      expiring: { amount: 500, expires_at: expect.any(String) },
    });
    const listed = await grants();
    expect(listed).toMatchObject({ has_more: false, next_cursor: null });
    expect(listed.data).toEqual([
      expect.objectContaining({
        id: paid,
        amount: 1000,
        remaining: 1000,
        category: 'paid',
        source: 'purchase',
        status: 'active',
        expires_at: null,
      }),
      expect.objectContaining({
        id: bonus,
        amount: 500,
        remaining: 500,
        category: 'promotional',
        source: 'admin',
        priority: 50,
        status: 'active',
        description: 'Sign-up bonus',
        transaction_id: expect.any(String),
      }),
    ]);
    const expiresAt = Date.parse(listed.data[1].expires_at);
    expect(Math.abs(expiresAt - (Date.now() + 30 * DAY * 1000))).toBeLessThan(60_000);

    // The bonus goes first (it expires; the purchase never does).
    expect((await debit(300)).status).toBe(200);
    expect([await remaining(bonus), await remaining(paid)]).toEqual([200, 1000]);
    expect((await credits()).expiring).toEqual({ amount: 200, expires_at: listed.data[1].expires_at });

    // 30 days on: the bonus stops being spendable at once, swept or not.
    await age(30 * DAY);
    expect(await credits()).toMatchObject({ balance: 1200, available_balance: 1000, expiring: null });
    expect((await grants('?status=expired')).data).toEqual([expect.objectContaining({ id: bonus, status: 'expired' })]);

    // The sweep writes its remainder off, once, and says so.
    const sweep = t.app.get(GrantExpirySchedule);
    expect((await sweep.run()).settledOrgs).toBe(1);
    expect((await sweep.run()).settledOrgs).toBe(0);
    const refused = await debit(1001);
    expect(refused.status).toBe(402);
    expect(refused.body).toEqual(envelope(402, 'insufficient_credits_error'));
    const expired = (await ledger()).filter((e) => e.transactionType === 'expiration');
    expect(expired).toEqual([
      expect.objectContaining({ amount: -200, balanceAfter: 1000, sourceRef: `expiration:${bonus}` }),
    ]);
    expect((await events('credits.expired')).map((e) => e.data)).toEqual([
      { grant_id: bonus, credits: 200, held: 0, transaction_id: expired[0].id, balance: 1000 },
    ]);
    const ledgerPage = await t.request('GET', `/api/v1/org/${slug}/credits/transactions?transaction_type=expiration`, {
      headers: bearer(key),
    });
    expect(ledgerPage.body.data).toEqual([expect.objectContaining({ amount: -200, transaction_type: 'expiration' })]);

    // A mistaken grant taken back: its unspent credits become one void entry.
    const mistake = await give(250, {}, 'Wrong org');
    const voided = await adjustments().void(mistake, 'Granted to the wrong org');
    expect(voided).toEqual({ orgId, grantId: mistake, voided: true, amount: 250, balance: 1000 });
    expect(await adjustments().void(mistake, 'again')).toMatchObject({ voided: false, amount: 0, balance: 1000 });
    expect((await ledger()).filter((e) => e.transactionType === 'void')).toEqual([
      expect.objectContaining({ amount: -250, description: 'Granted to the wrong org', sourceRef: `void:${mistake}` }),
    ]);
    expect((await grants('?status=voided&status=expired')).data.map((g: { id: string }) => g.id)).toEqual([
      mistake,
      bonus,
    ]);
    expect((await grants('?status=active')).data.map((g: { id: string }) => g.id)).toEqual([paid]);
  });

  it('draws by priority, then soonest expiry (never last), then promotional before paid, then the oldest', async () => {
    const neverPaid = await give(100);
    const laterPromo = await give(100, { category: 'promotional', expiry: { afterSeconds: 20 * DAY } });
    // The same expiry to the microsecond: then promotional goes first.
    const inTenDays = { at: new Date(Date.now() + 10 * DAY * 1000) };
    const soonPaid = await give(100, { expiry: inTenDays });
    const soonPromo = await give(100, { category: 'promotional', expiry: inTenDays });
    const urgent = await give(100, { priority: 10 });
    const last = await give(100, { priority: 90, expiry: { afterSeconds: DAY } });
    const order = [urgent, soonPromo, soonPaid, laterPromo, neverPaid, last];
    for (let i = 0; i < order.length; i++) {
      // 50 at a time: each grant is split over two debits, in order.
      expect((await debit(50)).status).toBe(200);
      expect((await debit(50)).status).toBe(200);
      expect(await remaining(order[i])).toBe(0);
      for (const later of order.slice(i + 1)) expect(await remaining(later)).toBe(100);
    }
    const draws = (await ledger()).filter((e) => e.transactionType === 'usage').map((e) => e.draws);
    expect(draws).toEqual(order.flatMap((id) => [[{ grant_id: id, amount: 50 }], [{ grant_id: id, amount: 50 }]]));
  });

  it('a grant not yet in effect is in the balance but not spendable until its effective_at', async () => {
    const future = await give(300, { effectiveAt: new Date(Date.now() + DAY * 1000) });
    expect(await credits()).toMatchObject({ balance: 300, available_balance: 0 });
    expect((await debit(1)).status).toBe(402);
    await age(DAY);
    expect(await credits()).toMatchObject({ balance: 300, available_balance: 300 });
    expect((await debit(300)).status).toBe(200);
    expect((await grants()).data).toEqual([expect.objectContaining({ id: future, remaining: 0, status: 'depleted' })]);
  });

  it('an expiry is written before any later entry of the org, so every balance_after is true in order', async () => {
    await give(400, { category: 'promotional', expiry: { afterSeconds: DAY } });
    await give(100);
    await age(DAY);
    // No sweep: the debit itself writes the expiry first.
    expect((await debit(60)).body).toMatchObject({ balance: 40, available_balance: 40, debited: 60 });
    expect((await ledger()).map((e) => [e.transactionType, e.amount, e.balanceAfter])).toEqual([
      ['admin_adjustment', 400, 400],
      ['admin_adjustment', 100, 500],
      ['expiration', -400, 100],
      ['usage', -60, 40],
    ]);
    // A credit settles first too.
    await give(10, { expiry: { afterSeconds: DAY } });
    await age(DAY);
    await give(5);
    expect((await ledger()).slice(-3).map((e) => [e.transactionType, e.amount, e.balanceAfter])).toEqual([
      ['admin_adjustment', 10, 50],
      ['expiration', -10, 40],
      ['admin_adjustment', 5, 45],
    ]);
  });

  it('a purchase that finds an expiry due settles it first, and its event reports the balance it left, once', async () => {
    await give(400, { category: 'promotional', expiry: { afterSeconds: DAY } });
    await age(DAY);
    // The credit's first statement writes nothing (an expiry is due), the org is settled, and
    // the credit runs again with the same entry and events (their job was written before both).
    await purchase(1000);
    const entries = await ledger();
    expect(entries.map((e) => [e.transactionType, e.amount, e.balanceAfter])).toEqual([
      ['admin_adjustment', 400, 400],
      ['expiration', -400, 0],
      ['purchase', 1000, 1000],
    ]);
    const purchased = await events('credits.purchased');
    expect(purchased.map((e) => e.data)).toEqual([{ credits: 1000, balance: 1000, transaction_id: entries[2].id }]);
    const jobs = await rows(
      t.db,
      sql`select 1 from pgboss.job where name = 'notification-dispatch' and data->'eventIds' ? ${purchased[0].id}`,
    );
    expect(jobs).toHaveLength(1);
  });

  it('a hold draws when made: capture spends it after its grant expired; what a release gives back is written off', async () => {
    const bonus = await give(500, { category: 'promotional', expiry: { afterSeconds: DAY } });
    await give(1000);
    const hold = async (amount: number) => {
      const res = await t.request('POST', `/api/v1/org/${slug}/credits/holds`, {
        headers: bearer(key, { 'idempotency-key': randomUUID() }),
        body: { amount, expires_in: 3600 },
      });
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    const captured = await hold(200);
    const released = await hold(100);
    expect(await credits()).toMatchObject({ balance: 1500, available_balance: 1200, held: 300 });
    await age(DAY);
    await t.app.get(GrantExpirySchedule).run();
    // Only the unheld 200 expired; 300 stay with the holds.
    expect((await ledger()).filter((e) => e.transactionType === 'expiration').map((e) => e.amount)).toEqual([-200]);
    expect(await remaining(bonus)).toBe(300);
    expect(await credits()).toMatchObject({ balance: 1300, available_balance: 1000, held: 300 });

    const capture = await t.request('POST', `/api/v1/org/${slug}/credits/holds/${captured}/capture`, {
      headers: bearer(key),
      body: { amount: 150 },
    });
    expect(capture.status).toBe(200);
    const release = await t.request('POST', `/api/v1/org/${slug}/credits/holds/${released}/release`, {
      headers: bearer(key),
    });
    expect(release.status).toBe(200);
    expect((await ledger()).slice(-3).map((e) => [e.transactionType, e.amount, e.sourceRef])).toEqual([
      ['usage', -150, `hold:${captured}`],
      ['expiration', -50, `expiration:${bonus}:${captured}`],
      ['expiration', -100, `expiration:${bonus}:${released}`],
    ]);
    expect(await remaining(bonus)).toBe(0);
    expect(await credits()).toMatchObject({ balance: 1000, available_balance: 1000, held: 0 });
    // The grant's expiry is notified once, with what expired at its expiry.
    expect((await events('credits.expired')).map((e) => e.data)).toEqual([expect.objectContaining({ credits: 200 })]);
  });

  it('credits.expired is sent once per grant, even when holds kept all of it at its expiry', async () => {
    const bonus = await give(300, { category: 'promotional', expiry: { afterSeconds: DAY } });
    const res = await t.request('POST', `/api/v1/org/${slug}/credits/holds`, {
      headers: bearer(key, { 'idempotency-key': randomUUID() }),
      body: { amount: 300, expires_in: 3600 },
    });
    expect(res.status).toBe(201);
    await age(DAY);
    await t.app.get(GrantExpirySchedule).run();
    // Nothing unheld to write off at its expiry; the hold's 300 are written off on release.
    await t.request('POST', `/api/v1/org/${slug}/credits/holds/${res.body.id}/release`, { headers: bearer(key) });
    await t.app.get(GrantExpirySchedule).run();
    expect((await events('credits.expired')).map((e) => e.data)).toEqual([
      { grant_id: bonus, credits: 0, held: 300, transaction_id: null, balance: 300 },
    ]);
    expect((await ledger()).map((e) => [e.transactionType, e.amount])).toEqual([
      ['admin_adjustment', 300],
      ['expiration', -300],
    ]);
  });

  it('what a hold kept of an expired grant is written off when the hold itself expires', async () => {
    const bonus = await give(300, { category: 'promotional', expiry: { afterSeconds: DAY } });
    await give(100);
    const res = await t.request('POST', `/api/v1/org/${slug}/credits/holds`, {
      headers: bearer(key, { 'idempotency-key': randomUUID() }),
      body: { amount: 250, expires_in: 3600 },
    });
    expect(res.status).toBe(201);
    await age(DAY);
    const sweep = t.app.get(GrantExpirySchedule);
    await sweep.run();
    expect(await remaining(bonus)).toBe(250);
    // Nothing more is due while the hold keeps its 250; the org's next expiry is the hold's.
    expect((await sweep.run()).settledOrgs).toBe(0);
    // The hour passes for the hold (its time, and the org's next expiry, move back).
    await t.db.execute(
      sql`update credit_holds set expires_at = now() - interval '1 second' where id = ${res.body.id}::uuid`,
    );
    await t.db.execute(
      sql`update credit_balances set next_expiry_at = now() - interval '1 second' where org_id = ${orgId}::uuid`,
    );
    expect((await sweep.run()).settledOrgs).toBe(1);
    expect(
      (await ledger()).filter((e) => e.transactionType === 'expiration').map((e) => [e.amount, e.sourceRef]),
    ).toEqual([
      [-50, `expiration:${bonus}`],
      [-250, `expiration:${bonus}:${res.body.id}`],
    ]);
    expect(await credits()).toMatchObject({ balance: 100, available_balance: 100, held: 0 });
  });

  it('an operator’s negative adjustment draws like a debit, and a void leaves what holds keep to them', async () => {
    const promo = await give(300, { category: 'promotional', priority: 20 });
    const paid = await give(700);
    expect((await adjustments().adjust(orgId, -100, 'Correction')).applied).toBe(true);
    expect([await remaining(promo), await remaining(paid)]).toEqual([200, 700]);
    const res = await t.request('POST', `/api/v1/org/${slug}/credits/holds`, {
      headers: bearer(key, { 'idempotency-key': randomUUID() }),
      body: { amount: 150 },
    });
    expect(res.status).toBe(201);
    expect(await adjustments().void(promo, 'Promotion withdrawn')).toMatchObject({ voided: true, amount: 50 });
    expect(await credits()).toMatchObject({ balance: 850, available_balance: 700, held: 150 });
    await t.request('POST', `/api/v1/org/${slug}/credits/holds/${res.body.id}/release`, { headers: bearer(key) });
    expect((await ledger()).filter((e) => e.transactionType === 'void').map((e) => [e.amount, e.sourceRef])).toEqual([
      [-50, `void:${promo}`],
      [-150, `void:${promo}:${res.body.id}`],
    ]);
    expect(await credits()).toMatchObject({ balance: 700, available_balance: 700, held: 0 });
  });

  it('credits.expiring is sent once per grant, EXPIRY_NOTICE_DAYS before its expiry', async () => {
    const soon = await give(80, { expiry: { afterSeconds: 10 * DAY } });
    await give(90, { expiry: { afterSeconds: 60 * DAY } });
    const sweep = t.app.get(GrantExpirySchedule);
    await sweep.run();
    await sweep.run();
    expect((await events('credits.expiring')).map((e) => e.data)).toEqual([
      expect.objectContaining({ grant_id: soon, credits: 80, category: 'paid' }),
    ]);
  });

  it('GET /credits/grants: newest first in cursor pages, status filter checked, members only', async () => {
    for (let i = 0; i < 3; i++) await give(10 + i);
    const first = await grants('?limit=2');
    expect(first.data.map((g: { amount: number }) => g.amount)).toEqual([12, 11]);
    expect(first.has_more).toBe(true);
    const second = await grants(`?limit=2&cursor=${first.next_cursor}`);
    expect(second).toMatchObject({
      has_more: false,
      next_cursor: null,
      data: [expect.objectContaining({ amount: 10 })],
    });
    const bad = await t.request('GET', `/api/v1/org/${slug}/credits/grants?status=spent`, { headers: bearer(key) });
    expect(bad.status).toBe(422);
    const stranger = await t.member(`${slug}-other`, `x@${slug}-other.test`, 'member');
    const hidden = await t.request('GET', `/api/v1/org/${slug}/credits/grants`, { headers: bearer(stranger) });
    expect(hidden.status).toBe(404);
  });
});
