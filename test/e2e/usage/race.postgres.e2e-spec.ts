/**
 * Usage debits racing from two API instances on one PostgreSQL database, in the PostgreSQL
 * pass of `npm test` (`test:postgres` sets TEST_DATABASE_URL; `test:pglite` skips this file).
 * Each instance groups its own debits; the balance row's lock and the usage key's primary key
 * order them across instances.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { eq, sql } from 'drizzle-orm';
import { creditBalances, creditLedger, rows, usageRecords } from '@credits/database';
import { createTestDatabaseUrl, type TestDatabase } from '../../support/database';
import { type Instance, startInstance } from '../../support/instance';
import type { HttpResult } from '../../support/test-app';
import { debit, debitBatch, grant, orgId, spender } from './kit';

if (!process.env.TEST_DATABASE_URL?.trim()) {
  throw new Error('TEST_DATABASE_URL must name a PostgreSQL server (npm run test:postgres sets it)');
}

/** One request of the race. More kinds (holds, captures) slot in here and in `send`. */
type Operation =
  | { kind: 'debit'; key: number; amount: number; allowPartial: boolean; instance: 0 | 1 }
  /** The same key and body as debit `key`, sent again (a retry), from either instance. */
  | { kind: 'replay'; key: number; instance: 0 | 1 };

const debitOp = fc.record({
  kind: fc.constant('debit' as const),
  key: fc.constant(0),
  amount: fc.integer({ min: 1, max: 120 }),
  allowPartial: fc.boolean(),
  instance: fc.constantFrom(0 as const, 1 as const),
});

/** ≥ 50 distinct debits, then replays of some of them, shuffled together. */
const scenario = fc
  .record({
    initial: fc.integer({ min: 0, max: 3000 }),
    debits: fc.array(debitOp, { minLength: 50, maxLength: 70 }),
    replays: fc.array(fc.record({ key: fc.nat(), instance: fc.constantFrom(0 as const, 1 as const) }), {
      minLength: 5,
      maxLength: 25,
    }),
    seed: fc.integer(),
  })
  .map(({ initial, debits, replays, seed }) => {
    const operations: Operation[] = [
      ...debits.map((d, key) => ({ ...d, key })),
      ...replays.map((r) => ({ kind: 'replay' as const, key: r.key % debits.length, instance: r.instance })),
    ];
    // A deterministic shuffle, so a failing case replays the same order.
    let state = seed >>> 0;
    for (let i = operations.length - 1; i > 0; i--) {
      state = (state * 1664525 + 1013904223) >>> 0;
      const j = state % (i + 1);
      [operations[i], operations[j]] = [operations[j], operations[i]];
    }
    return { initial, debits: debits.map((d, key) => ({ ...d, key })), operations };
  });

describe('usage debits racing from two instances (PostgreSQL)', () => {
  let database: TestDatabase;
  let instances: Instance[];
  let run = 0;

  beforeAll(async () => {
    database = await createTestDatabaseUrl();
    const env = { DATABASE_URL: database.url, RATE_LIMIT_READ: '100000', RATE_LIMIT_AUTH_FAILURES: '100000' };
    instances = await Promise.all([startInstance(env), startInstance(env)]);
  });
  afterAll(async () => {
    await Promise.all((instances ?? []).map((i) => i.close()));
    await database?.drop();
  });

  it('never overdraws, debits each key once, and replays every key its first result', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ initial, debits, operations }) => {
        const [a] = instances;
        const slug = `race-${++run}`;
        const apiKey = await spender(a.db, slug);
        const id = await orgId(a.db, slug);
        if (initial > 0) await grant(a.app, a.db, slug, initial);
        const keys: string[] = debits.map(() => randomUUID());
        const bodyOf = (key: number) => {
          const d = debits[key];
          return { amount: d.amount, metadata: { n: String(key) }, ...(d.allowPartial ? { allow_partial: true } : {}) };
        };
        const send = (op: Operation): Promise<HttpResult> =>
          debit(instances[op.instance], apiKey, slug, bodyOf(op.key), keys[op.key]);

        const answers = await Promise.all(operations.map(async (op) => ({ op, res: await send(op) })));

        // No 5xx, nothing but a debit or a refusal.
        expect(answers.filter(({ res }) => ![200, 402].includes(res.status)).map(({ res }) => res.text)).toEqual([]);

        // Every 200 of a key carries the same answer: the first one.
        const firstOf = new Map<number, unknown>();
        for (const { op, res } of answers) {
          if (res.status !== 200) continue;
          if (!firstOf.has(op.key)) firstOf.set(op.key, res.body);
          else expect(res.body).toEqual(firstOf.get(op.key));
        }
        // A retry after the race, from either instance, replays it.
        for (const [key, body] of firstOf) {
          const again = await debit(instances[key % 2], apiKey, slug, bodyOf(key), keys[key]);
          expect(again.status).toBe(200);
          expect(again.headers.get('idempotent-replayed')).toBe('true');
          expect(again.body).toEqual(body);
        }

        // The money: each key debited at most once, never below zero, balance = initial − Σ accepted = Σ ledger.
        const records = await a.db.select().from(usageRecords).where(eq(usageRecords.orgId, id));
        expect(records.map((r) => r.idempotencyKey).sort()).toEqual([...firstOf.keys()].map((k) => keys[k]).sort());
        const accepted = records.reduce((sum, r) => sum + r.debited, 0);
        for (const r of records) expect(r.debited).toBe((firstOf.get(keys.indexOf(r.idempotencyKey)) as any).debited);
        expect(accepted).toBeLessThanOrEqual(initial);
        const [balance] = await a.db.select().from(creditBalances).where(eq(creditBalances.orgId, id));
        const [ledger] = await rows<{ total: string; lowest: string | null; usage: string }>(
          a.db,
          sql`select coalesce(sum(amount), 0) as total, min(balance_after) as lowest,
                     count(*) filter (where transaction_type = 'usage') as usage
              from ${creditLedger} where org_id = ${id}::uuid`,
        );
        expect(balance?.balance ?? 0).toBe(initial - accepted);
        expect(Number(ledger.total)).toBe(initial - accepted);
        expect(Number(ledger.lowest ?? 0)).toBeGreaterThanOrEqual(0);
        expect(Number(ledger.usage)).toBe(records.filter((r) => r.debited > 0).length);
      }),
      { numRuns: 6 },
    );
  });

  it('keys recorded at once by both instances, with no balance row to lock, are recorded once and read back', async () => {
    // An org that never had credits has no balance row: nothing orders the two instances but
    // the usage key's primary key. allow_partial debits of 0 are still recorded.
    const [a, b] = instances;
    const slug = `race-unlocked-${++run}`;
    const apiKey = await spender(a.db, slug);
    const id = await orgId(a.db, slug);
    const keys = Array.from({ length: 30 }, () => randomUUID());
    const body = { amount: 5, allow_partial: true };
    const [batch, ...singles] = await Promise.all([
      debitBatch(
        a,
        apiKey,
        slug,
        keys.map((key) => ({ idempotency_key: key, amount: 5 })),
      ),
      ...keys.flatMap((key) => [debit(a, apiKey, slug, body, key), debit(b, apiKey, slug, body, key)]),
    ]);
    expect(singles.filter((r) => r.status !== 200).map((r) => r.text)).toEqual([]);
    expect(batch.status).toBe(200);
    // Per key: both singles answer the first result; the batch item (another body: no
    // allow_partial) is a conflict, or, if it came first, refused for want of credits (and
    // then not recorded, so it takes nothing from the singles).
    for (const [i, key] of keys.entries()) {
      const [one, two] = [singles[2 * i], singles[2 * i + 1]];
      expect(two.body).toEqual(one.body);
      expect(batch.body.results[i].idempotency_key).toBe(key);
      expect(['conflict', 'insufficient_credits']).toContain(batch.body.results[i].status);
    }
    expect(await a.db.select().from(usageRecords).where(eq(usageRecords.orgId, id))).toHaveLength(keys.length);
  });
});
