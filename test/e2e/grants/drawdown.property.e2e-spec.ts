import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { asc, eq } from 'drizzle-orm';
import { AdminAdjustments } from '@credits/billing';
import { creditGrants, creditLedger, organizations } from '@credits/database';
import { bearer, SPEND } from '../../support/auth';
import { startTestApp, type TestApp } from '../../support/test-app';
import { expectLedgerConsistent } from '../fulfilment/helpers';

const DAY_MS = 86_400_000;

/** A grant as the model holds it. */
interface ModelGrant {
  id: string;
  priority: number;
  /** ms; null: never. */
  expiresAt: number | null;
  category: 'paid' | 'promotional';
  created: number;
  remaining: number;
}

/** DESIGN §1.4's order, written again from the text, independently of the service's. */
function modelOrder(a: ModelGrant, b: ModelGrant): number {
  return (
    a.priority - b.priority ||
    (a.expiresAt ?? Infinity) - (b.expiresAt ?? Infinity) ||
    (a.category === b.category ? 0 : a.category === 'promotional' ? -1 : 1) ||
    a.created - b.created
  );
}

const grantArb = fc.record({
  amount: fc.integer({ min: 1, max: 300 }),
  priority: fc.constantFrom(0, 10, 50, 50, 90),
  /** Days until expiry from a shared base (so expiries tie), or never. */
  expiresInDays: fc.option(fc.constantFrom(5, 10, 10, 30), { nil: null }),
  category: fc.constantFrom('paid' as const, 'promotional' as const),
});
const spendArb = fc.record({
  amount: fc.integer({ min: 1, max: 400 }),
  /** A usage debit through HTTP, or an operator's negative adjustment. */
  by: fc.constantFrom('usage' as const, 'usage' as const, 'operator' as const),
});

/**
 * The drawdown order holds for every debit: random grants (priorities, expiries that tie,
 * categories) and random debits against a model that applies the order as DESIGN states it.
 * Every debit takes exactly what the model says from each grant, or is refused when the model
 * says the grants cannot cover it, and nothing is written then.
 */
describe('drawdown order (property)', () => {
  let t: TestApp;
  let run = 0;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  it('every debit draws from grants in drawdown order, as the model does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(grantArb, { minLength: 1, maxLength: 8 }),
        fc.array(spendArb, { minLength: 1, maxLength: 12 }),
        async (grantSpecs, spends) => {
          const slug = `drawdown-${++run}`;
          const key = await t.member(slug, `host@${slug}.test`, 'member', SPEND);
          const [{ id: orgId }] = await t.db.select().from(organizations).where(eq(organizations.slug, slug));
          const base = Date.now();
          const model: ModelGrant[] = [];
          for (const [i, spec] of grantSpecs.entries()) {
            const expiresAt = spec.expiresInDays === null ? null : base + spec.expiresInDays * DAY_MS;
            const { grantId } = await t.app.get(AdminAdjustments).adjust(orgId, spec.amount, `grant ${i}`, undefined, {
              priority: spec.priority,
              category: spec.category,
              expiry: expiresAt === null ? null : { at: new Date(expiresAt) },
            });
            model.push({ id: grantId!, ...spec, expiresAt, created: i, remaining: spec.amount });
          }
          for (const spend of spends) {
            const available = model.reduce((sum, g) => sum + g.remaining, 0);
            const expected: Array<{ grant_id: string; amount: number }> = [];
            if (spend.amount <= available) {
              let left = spend.amount;
              for (const grant of [...model].sort(modelOrder)) {
                const take = Math.min(left, grant.remaining);
                if (take === 0) continue;
                grant.remaining -= take;
                left -= take;
                expected.push({ grant_id: grant.id, amount: take });
              }
            }
            const before = (await t.db.select().from(creditLedger).where(eq(creditLedger.orgId, orgId))).length;
            let applied: boolean;
            if (spend.by === 'usage') {
              const res = await t.request('POST', `/api/v1/org/${slug}/credits/usage`, {
                headers: bearer(key, { 'idempotency-key': randomUUID() }),
                body: { amount: spend.amount },
              });
              expect([200, 402]).toContain(res.status);
              applied = res.status === 200;
            } else {
              applied = await t.app
                .get(AdminAdjustments)
                .adjust(orgId, -spend.amount, 'correction')
                .then(
                  () => true,
                  () => false,
                );
            }
            expect(applied).toBe(expected.length > 0);
            const entries = await t.db
              .select()
              .from(creditLedger)
              .where(eq(creditLedger.orgId, orgId))
              .orderBy(asc(creditLedger.seq));
            expect(entries).toHaveLength(before + (applied ? 1 : 0));
            if (applied) expect(entries[entries.length - 1].draws).toEqual(expected);
          }
          const stored = await t.db.select().from(creditGrants).where(eq(creditGrants.orgId, orgId));
          expect(new Map(stored.map((g) => [g.id, g.remaining]))).toEqual(
            new Map(model.map((g) => [g.id, g.remaining])),
          );
        },
      ),
      { numRuns: 25 },
    );
    await expectLedgerConsistent(t.db);
  });
});
