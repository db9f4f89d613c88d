import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { DebitGroupCommit } from '@credits/billing/usage/debit-group-commit';
import { creditBalances, creditLedger, type Db, rows } from '@credits/database';
import { startTestApp, type TestApp } from '../../support/test-app';
import { expectLedgerConsistent } from '../fulfilment/helpers';
import { debit, debitBatch, grant, orgId, spender } from './kit';

/**
 * Issue 17.6: an answer means what it says. A debit the deadline answered 503 is not applied
 * afterwards; a group re-run after a lost COMMIT answers its first-time debits as applied, not
 * as replays; one item failing in the fallback does not turn its batch into a 500.
 */
describe('usage answers mean what they say', () => {
  let t: TestApp;
  let n = 0;

  const newOrg = async (balance: number) => {
    const slug = `answers-${++n}-${randomUUID().slice(0, 6)}`;
    const key = await spender(t.db, slug);
    await grant(t.app, t.db, slug, balance);
    return { slug, key, id: await orgId(t.db, slug) };
  };
  const usageEntries = (id: string) =>
    t.db
      .select()
      .from(creditLedger)
      .where(sql`${creditLedger.orgId} = ${id} and ${creditLedger.transactionType} = 'usage'`);
  const balanceOf = async (id: string) =>
    Number((await t.db.select().from(creditBalances).where(eq(creditBalances.orgId, id)))[0].balance);

  /**
   * Holds the org's balance row in a transaction of the test's own, and resolves once it holds
   * it (not before: a debit sent earlier could take the row first), until `release` is called:
   * a debit's group then waits for the lock (PostgreSQL) or the connection (PGlite).
   */
  async function holdBalance(id: string): Promise<{ release(): Promise<void> }> {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const done = t.db.transaction(async (tx) => {
      await tx.execute(sql`select 1 from ${creditBalances} where org_id = ${id} for update`);
      locked();
      await gate;
    });
    // A transaction that failed before locking rejects here rather than leaving the test waiting.
    await Promise.race([isLocked, done]);
    return {
      release: async () => {
        open();
        await done;
      },
    };
  }

  beforeAll(async () => {
    // A deadline short enough for a test, long enough for a loaded machine's plain debit.
    t = await startTestApp({ env: { REQUEST_TIMEOUT_MS: '1500' } });
  });
  afterAll(() => t?.close());
  afterEach(() => expectLedgerConsistent(t.db));

  it('never applies a debit after answering it 503; its retry with the same key is applied once', async () => {
    const org = await newOrg(1000);
    // Warm the key's cache, so that the stuck request waits where debits are decided.
    expect((await debit(t, org.key, org.slug, { amount: 1 })).status).toBe(200);

    const lock = await holdBalance(org.id);
    const key = randomUUID();
    const stuck = await debit(t, org.key, org.slug, { amount: 100 }, key).finally(() => lock.release());
    expect(stuck.status).toBe(503);

    // The same org's debits are decided in order: this retry is decided after the stuck one.
    const retry = await debit(t, org.key, org.slug, { amount: 100 }, key);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(retry.body).toMatchObject({ debited: 100, balance: 899 });
    expect(await usageEntries(org.id)).toHaveLength(2);
    expect(await balanceOf(org.id)).toBe(899);
    // And the 503 told the host to do exactly that.
    expect(stuck.body.detail).toMatch(/same Idempotency-Key/);
  });

  it('answers a group re-run after a lost COMMIT as applied, not as replays', async () => {
    const org = await newOrg(1000);
    const commit = t.app.get(DebitGroupCommit) as unknown as { db: Db };
    const real = commit.db;
    let transactions = 0;
    // The network drops COMMIT's answer once: the transaction committed, the caller saw an error.
    commit.db = {
      transaction: async (work: Parameters<Db['transaction']>[0]) => {
        const result = await real.transaction(work);
        if (transactions++ === 0) throw new Error('Connection terminated unexpectedly');
        return result;
      },
    } as unknown as Db;
    try {
      const res = await debitBatch(t, org.key, org.slug, [
        { idempotency_key: `lost-a-${org.id}`, amount: 10 },
        { idempotency_key: `lost-b-${org.id}`, amount: 20 },
      ]);
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['applied', 'applied']);
      expect(res.body.results.map((r: { balance_after: number }) => r.balance_after)).toEqual([990, 970]);
    } finally {
      commit.db = real;
    }
    // The group, then each item on its own.
    expect(transactions).toBe(3);
    expect(await usageEntries(org.id)).toHaveLength(2);
    expect(await balanceOf(org.id)).toBe(970);
  });

  it("applies an org's debit in its turn, not after two other orgs' backlogs drain", async () => {
    const [a, b, c] = [await newOrg(10_000), await newOrg(10_000), await newOrg(10_000)];
    const commit = t.app.get(DebitGroupCommit);
    const held = commit as unknown as { db: Db };
    const real = held.db;
    // Every group waits at the gate, so a's and c's first groups take both transactions while
    // b's debit arrives behind them; then the groups run one at a time, in the order they
    // started, so the ledger's order is the order groups were formed in.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let previous: Promise<unknown> = gate;
    held.db = {
      transaction: (work: Parameters<Db['transaction']>[0]) => {
        const run = previous.then(() => real.transaction(work));
        previous = run.catch(() => undefined);
        return run;
      },
    } as unknown as Db;
    const debits = (org: { id: string }, count: number) =>
      commit.submit(
        org.id,
        Array.from({ length: count }, (_, i) => ({
          key: `turn-${org.id}-${i}`,
          requestHash: `turn-${i}`,
          amount: 1,
          description: undefined,
          metadata: undefined,
          allowPartial: false,
        })),
      );
    try {
      // Three groups' worth each (a group takes at most 1,000 debits).
      const done = [debits(a, 2_500), debits(c, 2_500), debits(b, 1)];
      open();
      const outcomes = (await Promise.all(done)).flat();
      expect(outcomes.every((o) => o.kind === 'applied')).toBe(true);
    } finally {
      held.db = real;
    }
    const [bEntry] = await usageEntries(b.id);
    const [{ before }] = await rows<{ before: string }>(
      t.db,
      sql`select count(*) as before from ${creditLedger}
          where org_id in (${a.id}, ${c.id}) and transaction_type = 'usage' and seq < ${bEntry.seq}`,
    );
    // b's debit went into the next group formed, behind a's and c's first groups only. Had a
    // kept its place ahead of b, b would have waited for a's and c's second groups too, and
    // gone into a's third behind its last 500 (4,500 before it).
    expect(Number(before)).toBe(2_000);
  });

  it('runs two debit transactions at once however many orgs wait; the orgs that waited share the next', async () => {
    const orgs = [await newOrg(100), await newOrg(100), await newOrg(100), await newOrg(100), await newOrg(100)];
    const commit = t.app.get(DebitGroupCommit);
    const held = commit as unknown as { db: Db };
    const real = held.db;
    // Every transaction waits at the gate: those started before it opens are all the limit let start.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let running = 0;
    let mostAtOnce = 0;
    let transactions = 0;
    held.db = {
      transaction: async (work: Parameters<Db['transaction']>[0]) => {
        transactions++;
        mostAtOnce = Math.max(mostAtOnce, ++running);
        try {
          await gate;
          return await real.transaction(work);
        } finally {
          running--;
        }
      },
    } as unknown as Db;
    try {
      const done = orgs.map((org) =>
        commit.submit(org.id, [
          {
            key: `limit-${org.id}`,
            requestHash: 'limit',
            amount: 1,
            description: undefined,
            metadata: undefined,
            allowPartial: false,
          },
        ]),
      );
      expect(running).toBe(2);
      open();
      expect((await Promise.all(done)).flat().every((o) => o.kind === 'applied')).toBe(true);
    } finally {
      held.db = real;
    }
    // The first two orgs took a transaction each; the three that waited went in the next one.
    expect(mostAtOnce).toBe(2);
    expect(transactions).toBe(3);
    for (const org of orgs) expect(await balanceOf(org.id)).toBe(99);
  });

  it('answers a batch whose one item fails on its own with that item failed and the others applied', async () => {
    const org = await newOrg(1000);
    // An item the database refuses whatever the others do (a trigger stands in for any such fault).
    await t.db.execute(
      sql.raw(`
      create or replace function answers_refuse_poison() returns trigger language plpgsql as $$
      begin
        if new.idempotency_key like 'poison-%' then raise exception 'refused by the test'; end if;
        return new;
      end $$`),
    );
    await t.db.execute(
      sql.raw(`create trigger answers_refuse_poison before insert on usage_records
               for each row execute function answers_refuse_poison()`),
    );
    const poison = `poison-${org.id}`;
    try {
      const res = await debitBatch(t, org.key, org.slug, [
        { idempotency_key: `fine-a-${org.id}`, amount: 10 },
        { idempotency_key: poison, amount: 20 },
        { idempotency_key: `fine-b-${org.id}`, amount: 30 },
      ]);
      expect(res.status).toBe(200);
      expect(res.body.results).toEqual([
        expect.objectContaining({ status: 'applied', balance_after: 990 }),
        {
          idempotency_key: poison,
          status: 'failed',
          transaction_id: null,
          balance_after: null,
          error: { type: 'api_error', detail: expect.stringMatching(/same key/) },
        },
        expect.objectContaining({ status: 'applied', balance_after: 960 }),
      ]);
      expect(await balanceOf(org.id)).toBe(960);
    } finally {
      await t.db.execute(sql.raw('drop trigger answers_refuse_poison on usage_records'));
    }
    // Sent again with the same key once the fault is gone, it is applied (not a replay).
    const again = await debitBatch(t, org.key, org.slug, [{ idempotency_key: poison, amount: 20 }]);
    expect(again.body.results[0]).toMatchObject({ status: 'applied', balance_after: 940 });
  });
});
