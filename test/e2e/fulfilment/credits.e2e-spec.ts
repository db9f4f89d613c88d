import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { InsufficientBalanceError, LedgerService } from '@credits/billing';
import { organizations, TransactionType } from '@credits/database';
import { startTestApp, TestApp } from '../../support/test-app';
import { expectLedgerConsistent } from './helpers';
import { bearer } from '../../support/auth';

const THRESHOLD = 1500;

/** The balance and ledger routes: shape, threshold, ordering, pagination, filters, validation, access. */
describe('GET /api/v1/org/{org}/credits and /credits/transactions', () => {
  let t: TestApp;
  let memberKey: string;
  let adminKey: string;
  let outsiderKey: string;
  let acmeId: string;
  let ledger: LedgerService;
  /** What was written, oldest first. */
  const written: { amount: number; type: TransactionType; description: string }[] = [];

  const get = (path: string, key = memberKey) => t.request('GET', path, { headers: bearer(key) });
  const entry = (orgId: string, amount: number, type: TransactionType, description: string) =>
    t.db.transaction((tx) =>
      ledger.apply(tx, { orgId, amount, transactionType: type, description, sourceRef: `test:${randomUUID()}` }),
    );

  beforeAll(async () => {
    t = await startTestApp({ env: { LOW_BALANCE_THRESHOLD: String(THRESHOLD) } });
    adminKey = await t.member('acme', 'admin@acme.test', 'admin');
    memberKey = await t.member('acme', 'member@acme.test', 'member');
    outsiderKey = await t.member('globex', 'owner@globex.test', 'owner');
    await t.member('emptyco', 'member@acme.test', 'member');
    acmeId = (await t.db.select().from(organizations).where(eq(organizations.slug, 'acme')))[0].id;
    const globexId = (await t.db.select().from(organizations).where(eq(organizations.slug, 'globex')))[0].id;
    ledger = t.app.get(LedgerService);

    const plan: [number, TransactionType][] = [
      [1000, 'purchase'],
      [-100, 'usage'],
      [2000, 'purchase'],
      [-500, 'refund'],
      [50, 'admin_adjustment'],
      [-250, 'usage'],
      [-1, 'usage'],
      [300, 'admin_adjustment'],
      [-999, 'refund'],
      [1000, 'purchase'],
      [-7, 'usage'],
      [-1, 'usage'],
    ];
    for (const [i, [amount, type]] of plan.entries()) {
      const description = `entry ${i + 1}`;
      await entry(acmeId, amount, type, description);
      written.push({ amount, type, description });
      // Another org's entries interleave: they must never show up in acme's pages.
      if (i % 3 === 0) await entry(globexId, 10, 'purchase', `globex ${i}`);
    }
  });
  afterAll(() => t?.close());
  afterEach(() => expectLedgerConsistent(t.db));

  const total = () => written.reduce((sum, w) => sum + w.amount, 0);

  describe('balance', () => {
    it('any member reads {balance, available_balance, held, is_low_balance, auto_refill_enabled}', async () => {
      const res = await get('/api/v1/org/acme/credits');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        balance: total(),
        available_balance: total(),
        held: 0,
        expiring: null,
        is_low_balance: total() < THRESHOLD,
        auto_refill_enabled: false,
      });
      expect((await get('/api/v1/org/acme/credits', adminKey)).body.balance).toBe(total());
    });

    it('is_low_balance is true strictly below LOW_BALANCE_THRESHOLD', async () => {
      const [org] = await t.db
        .insert(organizations)
        .values({ slug: `low-${randomUUID().slice(0, 8)}`, name: 'Low' })
        .returning();
      await t.admin.addMember(org.slug, 'member@acme.test', 'member');
      const read = async () => (await get(`/api/v1/org/${org.slug}/credits`)).body;
      expect(await read()).toEqual({
        balance: 0,
        available_balance: 0,
        held: 0,
        expiring: null,
        is_low_balance: true,
        auto_refill_enabled: false,
      });
      await entry(org.id, THRESHOLD - 1, 'purchase', 'just below');
      expect(await read()).toMatchObject({ balance: THRESHOLD - 1, is_low_balance: true });
      await entry(org.id, 1, 'admin_adjustment', 'at the threshold');
      expect(await read()).toMatchObject({ balance: THRESHOLD, is_low_balance: false });
    });

    it('an org without any entry has balance 0', async () => {
      expect((await get('/api/v1/org/emptyco/credits')).body).toEqual({
        balance: 0,
        available_balance: 0,
        held: 0,
        expiring: null,
        is_low_balance: true,
        auto_refill_enabled: false,
      });
    });
  });

  describe('transactions', () => {
    it('lists the ledger newest first with the documented fields', async () => {
      const res = await get('/api/v1/org/acme/credits/transactions');
      expect(res.status).toBe(200);
      expect(res.body.has_more).toBe(false);
      expect(res.body.next_cursor).toBeNull();
      const newestFirst = [...written].reverse();
      expect(res.body.data.map((d: any) => [d.amount, d.transaction_type, d.description])).toEqual(
        newestFirst.map((w) => [w.amount, w.type, w.description]),
      );
      let running = total();
      for (const item of res.body.data) {
        expect(Object.keys(item).sort()).toEqual([
          'amount',
          'balance_after',
          'checkout_session_id',
          'created_at',
          'description',
          'id',
          'receipt_url',
          'transaction_type',
        ]);
        expect(item.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(new Date(item.created_at).toISOString()).toBe(item.created_at);
        expect(item.checkout_session_id).toBeNull();
        expect(item.receipt_url).toBeNull();
        expect(item.balance_after).toBe(running);
        running -= item.amount;
      }
      expect(running).toBe(0);
    });

    it('pages with an opaque cursor: every entry exactly once, in order, for any page size', async () => {
      const all = (await get('/api/v1/org/acme/credits/transactions?limit=100')).body.data.map((d: any) => d.id);
      for (const limit of [1, 3, 5, 12, 13]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const query: string = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const res = await get(`/api/v1/org/acme/credits/transactions?${query}`);
          expect(res.status).toBe(200);
          expect(res.body.data.length).toBeLessThanOrEqual(limit);
          seen.push(...res.body.data.map((d: any) => d.id));
          cursor = res.body.next_cursor;
          expect(res.body.has_more).toBe(cursor !== null);
          if (cursor) expect(cursor).not.toMatch(/^\d+$/);
          pages++;
        } while (cursor);
        expect({ limit, seen }).toEqual({ limit, seen: all });
        expect(pages).toBe(Math.max(1, Math.ceil(all.length / limit)));
      }
    });

    it('defaults to 50 per page', async () => {
      const [org] = await t.db
        .insert(organizations)
        .values({ slug: `many-${randomUUID().slice(0, 8)}`, name: 'Many' })
        .returning();
      await t.admin.addMember(org.slug, 'member@acme.test', 'member');
      for (let i = 0; i < 51; i++) await entry(org.id, 1, 'purchase', `n${i}`);
      const first = await get(`/api/v1/org/${org.slug}/credits/transactions`);
      expect(first.body.data).toHaveLength(50);
      expect(first.body.has_more).toBe(true);
      const second = await get(`/api/v1/org/${org.slug}/credits/transactions?cursor=${first.body.next_cursor}`);
      expect(second.body.data.map((d: any) => d.description)).toEqual(['n0']);
      expect(second.body).toMatchObject({ has_more: false, next_cursor: null });
    });

    it('filters by one or several transaction_type values, also across pages', async () => {
      const one = await get('/api/v1/org/acme/credits/transactions?transaction_type=refund');
      expect(one.body.data.map((d: any) => d.amount)).toEqual([-999, -500]);

      const wanted = written
        .filter((w) => w.type === 'usage' || w.type === 'admin_adjustment')
        .reverse()
        .map((w) => w.description);
      const several = await get(
        '/api/v1/org/acme/credits/transactions?transaction_type=usage&transaction_type=admin_adjustment',
      );
      expect(several.body.data.map((d: any) => d.description)).toEqual(wanted);

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await get(
          `/api/v1/org/acme/credits/transactions?limit=2&transaction_type=usage&transaction_type=admin_adjustment${cursor ? `&cursor=${cursor}` : ''}`,
        );
        seen.push(...res.body.data.map((d: any) => d.description));
        cursor = res.body.next_cursor;
      } while (cursor);
      expect(seen).toEqual(wanted);
    });

    const badQueries: [string, string[]][] = [
      ['limit=0', ['query', 'limit']],
      ['limit=101', ['query', 'limit']],
      ['limit=abc', ['query', 'limit']],
      ['limit=1.5', ['query', 'limit']],
      ['limit=', ['query', 'limit']],
      ['limit=1&limit=2', ['query', 'limit']],
      ['cursor=not-a-cursor', ['query', 'cursor']],
      [`cursor=${Buffer.from(JSON.stringify({ s: -1 })).toString('base64url')}`, ['query', 'cursor']],
      [`cursor=${Buffer.from('[1]').toString('base64url')}`, ['query', 'cursor']],
      [`cursor=${'a'.repeat(201)}`, ['query', 'cursor']],
      ['transaction_type=gift', ['query', 'transaction_type']],
      ['transaction_type=purchase&transaction_type=gift', ['query', 'transaction_type']],
    ];
    it.each(
      badQueries.map(([query, loc]) => ({
        name: query.length > 60 ? `${query.slice(0, 20)}… (${query.length} characters)` : query,
        query,
        loc,
      })),
    )('$name -> 422 with loc $loc', async ({ query, loc }) => {
      const res = await get(`/api/v1/org/acme/credits/transactions?${query}`);
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ code: 422, type: 'validation_error' });
      expect(res.body.errors.length).toBeGreaterThanOrEqual(1);
      for (const error of res.body.errors) {
        expect(error.loc.slice(0, 2)).toEqual(loc);
        expect(error.msg).toEqual(expect.any(String));
      }
    });

    it('reports every bad parameter at once', async () => {
      const res = await get('/api/v1/org/acme/credits/transactions?limit=0&transaction_type=gift');
      expect(res.status).toBe(422);
      expect(res.body.errors.map((e: any) => e.loc[1]).sort()).toEqual(['limit', 'transaction_type']);
    });
  });

  describe.each([
    ['balance', '/credits'],
    ['transactions', '/credits/transactions'],
  ])('access to %s', (_name, suffix) => {
    it('401 without credentials or with an unknown key', async () => {
      const none = await t.request('GET', `/api/v1/org/acme${suffix}`);
      expect([none.status, none.body.type]).toEqual([401, 'authentication_error']);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const unknown = await get(`/api/v1/org/acme${suffix}`, 'ck_unknown_key_0000000000000000000000');
      expect([unknown.status, unknown.body.type]).toEqual([401, 'authentication_error']);
    });

    it('404 for an org the caller is not a member of, and for an unknown org, alike', async () => {
      const outsider = await get(`/api/v1/org/acme${suffix}`, outsiderKey);
      const unknown = await get(`/api/v1/org/no-such-org${suffix}`, outsiderKey);
      expect([outsider.status, outsider.body.type]).toEqual([404, 'not_found_error']);
      expect(unknown.body).toEqual(outsider.body);
      expect(outsider.text).not.toContain(String(total()));
    });
  });

  describe('LedgerService.apply: each source applies once', () => {
    it('a credit or a debit applied again changes nothing and reports the current balance', async () => {
      const [org] = await t.db
        .insert(organizations)
        .values({ slug: `once-${randomUUID().slice(0, 8)}`, name: 'Once' })
        .returning();
      const apply = (amount: number, sourceRef: string) =>
        t.db.transaction((tx) =>
          ledger.apply(tx, {
            orgId: org.id,
            amount,
            transactionType: amount > 0 ? 'purchase' : 'usage',
            description: sourceRef,
            sourceRef,
          }),
        );
      const grant = `test:grant:${randomUUID()}`;
      const spend = `test:spend:${randomUUID()}`;
      expect(await apply(1000, grant)).toMatchObject({ applied: true, balance: 1000 });
      expect(await apply(1000, grant)).toEqual({ applied: false, balance: 1000 });
      expect(await apply(-700, spend)).toMatchObject({ applied: true, balance: 300 });
      // Already applied: a no-op, even though the 300 left could not cover it again.
      expect(await apply(-700, spend)).toEqual({ applied: false, balance: 300 });
      expect(await ledger.balance(org.id)).toBe(300);
    });

    it('a debit the balance cannot cover is refused and writes nothing', async () => {
      const [org] = await t.db
        .insert(organizations)
        .values({ slug: `short-${randomUUID().slice(0, 8)}`, name: 'Short' })
        .returning();
      await t.db.transaction((tx) =>
        ledger.apply(tx, {
          orgId: org.id,
          amount: 100,
          transactionType: 'purchase',
          description: 'grant',
          sourceRef: `test:${randomUUID()}`,
        }),
      );
      const refused = await t.db
        .transaction((tx) =>
          ledger.apply(tx, {
            orgId: org.id,
            amount: -101,
            transactionType: 'usage',
            description: 'too much',
            sourceRef: `test:${randomUUID()}`,
          }),
        )
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(InsufficientBalanceError);
      expect(await ledger.balance(org.id)).toBe(100);
    });
  });
});
