/**
 * Usage debits and holds racing from two API instances on one PostgreSQL database, in the
 * PostgreSQL pass of `npm test` (`test:postgres` sets TEST_DATABASE_URL; `test:pglite` skips
 * this file). Each instance groups its own debits; the balance row's lock orders debits and
 * new holds across instances, the usage key's primary key and the hold's id (from its
 * Idempotency-Key) stop a second debit or hold, and the hold's row lock orders its end.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { eq, sql } from 'drizzle-orm';
import { creditBalances, creditHolds, creditLedger, rows, usageRecords } from '@credits/database';
import { bearer } from '../../support/auth';
import { racingInstances } from '../../support/instance';
import type { HttpResult } from '../../support/test-app';
import { credits, debit, debitBatch, grant, orgId, spender } from './kit';

if (!process.env.TEST_DATABASE_URL?.trim()) {
  throw new Error('TEST_DATABASE_URL must name a PostgreSQL server (npm run test:postgres sets it)');
}

type Side = 0 | 1;
const side = fc.constantFrom(0 as const, 1 as const);

/** One request (or, for a hold, one hold's life) of the race. */
type Operation =
  | { kind: 'debit'; key: number; instance: Side }
  /** The same key and body as debit `key`, sent again (a retry), from either instance. */
  | { kind: 'replay'; key: number; instance: Side }
  /** Hold `hold` made (and maybe its creation retried at once), then captured, released or kept. */
  | { kind: 'hold'; hold: number }
  /** GET /credits in the middle of it all. */
  | { kind: 'read'; instance: Side };

const debitOp = fc.record({
  amount: fc.integer({ min: 1, max: 120 }),
  allowPartial: fc.boolean(),
  instance: side,
});

const holdOp = fc.record({
  amount: fc.integer({ min: 1, max: 150 }),
  /** Captured whole, in part (`part` of it, 1 … amount), released, or left active to the end. */
  end: fc.constantFrom('capture' as const, 'capture_part' as const, 'release' as const, 'keep' as const),
  part: fc.nat(),
  instance: side,
  /** The creation sent again from this instance while the first is in flight (a client retry). */
  retryFrom: fc.option(side, { nil: null }),
  endInstance: side,
  /** A rival end (a whole capture, or a release) from the other instance, `rivalAfter` ms later. */
  rival: fc.option(fc.constantFrom('capture' as const, 'release' as const), { nil: null, freq: 3 }),
  /** Spreads the rival over the first end's life; null: once the first end has answered (a late retry). */
  rivalAfter: fc.option(fc.integer({ min: 0, max: 20 }), { nil: null, freq: 2 }),
});

/** ≥ 50 distinct debits, replays of some of them, holds and reads: ≥ 80 requests, shuffled together. */
const scenario = fc
  .record({
    initial: fc.integer({ min: 0, max: 3000 }),
    debits: fc.array(debitOp, { minLength: 50, maxLength: 70 }),
    replays: fc.array(fc.record({ key: fc.nat(), instance: side }), { minLength: 5, maxLength: 25 }),
    holds: fc.array(holdOp, { minLength: 8, maxLength: 20 }),
    reads: fc.array(side, { minLength: 3, maxLength: 8 }),
    seed: fc.integer(),
  })
  .map(({ initial, debits, replays, holds, reads, seed }) => {
    const operations: Operation[] = [
      ...debits.map((d, key) => ({ kind: 'debit' as const, key, instance: d.instance })),
      ...replays.map((r) => ({ kind: 'replay' as const, key: r.key % debits.length, instance: r.instance })),
      ...holds.map((_, hold) => ({ kind: 'hold' as const, hold })),
      ...reads.map((instance) => ({ kind: 'read' as const, instance })),
    ];
    // A deterministic shuffle, so a failing case replays the same order.
    let state = seed >>> 0;
    for (let i = operations.length - 1; i > 0; i--) {
      state = (state * 1664525 + 1013904223) >>> 0;
      const j = state % (i + 1);
      [operations[i], operations[j]] = [operations[j], operations[i]];
    }
    return {
      initial,
      debits,
      holds: holds.map((h) => ({ ...h, part: h.end === 'capture_part' ? (h.part % h.amount) + 1 : h.amount })),
      operations,
    };
  });

interface HoldEnd {
  action: 'capture' | 'release';
  /** Credits a capture spends. */
  amount: number;
  res: HttpResult;
}

interface HoldLife {
  /** The creation's answers: the first request's, then its retry's (if any). */
  creates: HttpResult[];
  /** The capture's or release's answer, and its rival's, if the hold was made and is not kept. */
  ends: HoldEnd[];
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isReplay = (res: HttpResult) => res.headers.get('idempotent-replayed') === 'true';

describe('usage debits and holds racing from two instances (PostgreSQL)', () => {
  const started = racingInstances();
  let run = 0;

  it('never overdraws, spends each key and hold once, and replays every key its first result', async () => {
    const instances = started();
    await fc.assert(
      fc.asyncProperty(scenario, async ({ initial, debits, holds, operations }) => {
        const [a] = instances;
        const slug = `race-${++run}`;
        const apiKey = await spender(a.db, slug);
        const id = await orgId(a.db, slug);
        if (initial > 0) await grant(a.app, a.db, slug, initial);
        const keys: string[] = debits.map(() => randomUUID());
        const holdKeys: string[] = holds.map(() => randomUUID());
        const holdsPath = `/api/v1/org/${slug}/credits/holds`;
        const bodyOf = (key: number) => {
          const d = debits[key];
          return { amount: d.amount, metadata: { n: String(key) }, ...(d.allowPartial ? { allow_partial: true } : {}) };
        };
        const holdBodyOf = (h: number) => ({ amount: holds[h].amount, metadata: { h: String(h) } });
        const createHold = (h: number, on: Side) =>
          instances[on].request('POST', holdsPath, {
            headers: bearer(apiKey, { 'idempotency-key': holdKeys[h] }),
            body: holdBodyOf(h),
          });
        const holdLife = async (h: number): Promise<HoldLife> => {
          const spec = holds[h];
          const creates = await Promise.all([
            createHold(h, spec.instance),
            ...(spec.retryFrom === null ? [] : [createHold(h, spec.retryFrom)]),
          ]);
          const made = creates.find((res) => res.status === 201);
          if (!made || spec.end === 'keep') return { creates, ends: [] };
          const finish = async (action: HoldEnd['action'], amount: number, on: Side): Promise<HoldEnd> => {
            // A whole capture sends no body (the default is all of it); a part names its amount.
            const body = action === 'capture' && amount < spec.amount ? { amount } : undefined;
            const path = `${holdsPath}/${made.body.id}/${action}`;
            return {
              action,
              amount,
              res: await instances[on].request('POST', path, { headers: bearer(apiKey), body }),
            };
          };
          const first = finish(spec.end === 'release' ? 'release' : 'capture', spec.part, spec.endInstance);
          if (spec.rival === null) return { creates, ends: [await first] };
          const rivalAction = spec.rival;
          const rival = (spec.rivalAfter === null ? first : delay(spec.rivalAfter)).then(() =>
            finish(rivalAction, spec.amount, (1 - spec.endInstance) as Side),
          );
          return { creates, ends: await Promise.all([first, rival]) };
        };

        const debitAnswers: { key: number; res: HttpResult }[] = [];
        const lives: HoldLife[] = [];
        const reads: HttpResult[] = [];
        await Promise.all(
          operations.map(async (op) => {
            if (op.kind === 'hold') lives[op.hold] = await holdLife(op.hold);
            else if (op.kind === 'read') reads.push(await credits(instances[op.instance], apiKey, slug));
            else
              debitAnswers.push({
                key: op.key,
                res: await debit(instances[op.instance], apiKey, slug, bodyOf(op.key), keys[op.key]),
              });
          }),
        );

        // No 5xx, nothing but what each request may answer. A debit is done or refused (402,
        // nothing written: a replay of it is a new attempt). A hold is made or refused; its
        // retry, while the first is still running, may be 409 ("still in progress").
        expect(debitAnswers.filter(({ res }) => ![200, 402].includes(res.status)).map(({ res }) => res.text)).toEqual(
          [],
        );
        for (const [h, { creates, ends }] of lives.entries()) {
          expect(creates.filter((res) => ![201, 402, 409].includes(res.status)).map((res) => res.text)).toEqual([]);
          for (const res of creates.filter((r) => r.status === 409)) {
            expect(holds[h].retryFrom).not.toBeNull();
            expect(res.body.detail).toMatch(/still in progress/);
          }
          // An end is done, or (against its rival) finds the hold no longer active.
          const allowed = holds[h].rival === null ? [200] : [200, 409];
          for (const { res } of ends)
            expect({ h, ok: allowed.includes(res.status), text: res.text }).toMatchObject({ ok: true });
        }
        expect(reads.filter((res) => res.status !== 200).map((res) => res.text)).toEqual([]);

        // Every 200 of a debit key carries the same answer, and all but the first say it is a replay.
        const firstOf = new Map<number, { body: unknown }>();
        for (const { key, res } of debitAnswers) {
          if (res.status !== 200) continue;
          if (!firstOf.has(key)) firstOf.set(key, { body: res.body });
          else expect(res.body).toEqual(firstOf.get(key)!.body);
        }
        // A debit takes all it asks, or (allow_partial) what was available, never more.
        for (const [key, { body }] of firstOf) {
          const { amount, allowPartial } = debits[key];
          const { debited, shortfall, balance: after, available_balance: available } = body as any;
          expect(debited + shortfall).toBe(amount);
          if (!allowPartial) expect(shortfall).toBe(0);
          if (shortfall > 0) expect(available).toBe(0);
          expect(Math.min(after, available)).toBeGreaterThanOrEqual(0);
        }
        for (const key of firstOf.keys()) {
          const fresh = debitAnswers.filter((d) => d.key === key && d.res.status === 200 && !isReplay(d.res));
          expect(fresh).toHaveLength(1);
        }
        // A hold's creations that were answered 201 are one hold, told once as new.
        const madeHolds = new Map<number, { body: any }>();
        for (const [h, { creates }] of lives.entries()) {
          const made = creates.filter((res) => res.status === 201);
          if (made.length === 0) continue;
          expect(made.filter((res) => !isReplay(res))).toHaveLength(1);
          for (const res of made) expect(res.body).toEqual(made[0].body);
          expect(made[0].body).toMatchObject({ amount: holds[h].amount, status: 'active', captured_amount: null });
          madeHolds.set(h, { body: made[0].body });
        }

        // What each hold's end spent or gave back: one capture won, or releases only (a released
        // hold released again answers it again), never both.
        let captured = 0;
        let stillHeld = 0;
        const capturedHolds = new Map<string, number>();
        const releasedHolds = new Set<string>();
        for (const [h, { body }] of madeHolds) {
          if (holds[h].end === 'keep') {
            stillHeld += holds[h].amount;
            continue;
          }
          const won = lives[h].ends.filter(({ res }) => res.status === 200);
          const capture = won.find(({ action }) => action === 'capture');
          if (capture) {
            expect(won).toHaveLength(1);
            captured += capture.amount;
            capturedHolds.set(body.id, capture.amount);
            expect(capture.res.body.hold).toMatchObject({
              id: body.id,
              status: 'captured',
              captured_amount: capture.amount,
            });
            expect(capture.res.body.transaction).toMatchObject({ amount: -capture.amount, transaction_type: 'usage' });
            expect(capture.res.body.transaction.balance_after).toBeGreaterThanOrEqual(0);
          } else {
            expect(won.length).toBeGreaterThan(0);
            releasedHolds.add(body.id);
            for (const { res } of won) {
              expect(res.body.hold).toMatchObject({ id: body.id, status: 'released', captured_amount: null });
              expect(res.body).toEqual(won[0].res.body);
            }
          }
        }

        // Reads in the middle: never below zero, and available = balance − held, in one snapshot.
        for (const { body } of reads) {
          expect(body.available_balance).toBeGreaterThanOrEqual(0);
          expect(body.available_balance).toBe(body.balance - body.held);
        }

        // A retry after the race, from either instance, replays the first answer: debits and holds.
        for (const [key, { body }] of firstOf) {
          const again = await debit(instances[key % 2], apiKey, slug, bodyOf(key), keys[key]);
          expect(again.status).toBe(200);
          expect(again.headers.get('idempotent-replayed')).toBe('true');
          expect(again.body).toEqual(body);
        }
        for (const [h, { body }] of madeHolds) {
          const again = await createHold(h, (h % 2) as Side);
          expect(again.status).toBe(201);
          expect(again.headers.get('idempotent-replayed')).toBe('true');
          expect(again.body).toEqual(body);
        }

        // The money: each key debited at most once, each hold captured at most once, never below
        // zero, balance = initial − Σ accepted = Σ ledger, available = balance − Σ active holds.
        const records = await a.db.select().from(usageRecords).where(eq(usageRecords.orgId, id));
        expect(records.map((r) => r.idempotencyKey).sort()).toEqual([...firstOf.keys()].map((k) => keys[k]).sort());
        for (const r of records) {
          expect(r.debited).toBe((firstOf.get(keys.indexOf(r.idempotencyKey))!.body as any).debited);
        }
        const debited = records.reduce((sum, r) => sum + r.debited, 0);
        const accepted = debited + captured;
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
        expect(Number(ledger.usage)).toBe(records.filter((r) => r.debited > 0).length + capturedHolds.size);
        const holdRows = await a.db.select().from(creditHolds).where(eq(creditHolds.orgId, id));
        expect(holdRows).toHaveLength(madeHolds.size);
        for (const hold of holdRows) {
          const status = capturedHolds.has(hold.id) ? 'captured' : releasedHolds.has(hold.id) ? 'released' : 'active';
          expect([hold.status, hold.capturedAmount]).toEqual([status, capturedHolds.get(hold.id) ?? null]);
        }
        const after = await credits(a, apiKey, slug);
        expect(after.body).toMatchObject({
          balance: initial - accepted,
          held: stillHeld,
          available_balance: initial - accepted - stillHeld,
        });
        expect(after.body.available_balance).toBeGreaterThanOrEqual(0);
      }),
      // A failure is shrunk for at most 20 s (each case is ~100 requests), then reported as it stands.
      { numRuns: 6, interruptAfterTimeLimit: 20_000 },
    );
  });

  it('keys recorded at once by both instances, with no balance row to lock, are recorded once and read back', async () => {
    const instances = started();
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
