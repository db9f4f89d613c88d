import fc from 'fast-check';
import { debitWithinBalance, refundShare } from '@credits/billing';

/** A session of 2,000 credits paid 1,400 cents (2 bundles at 700): shares round down. */
const share = (refunded: number, settled = 0, chargeAmount = 1400, sessionAmount: number | null = 1400) =>
  refundShare({ credits: 2000, settled, chargeAmount, sessionAmount, refunded });

describe('refund arithmetic', () => {
  it('takes back floor(credits × refunded ÷ paid)', () => {
    expect(share(700)).toEqual({ paid: 1400, owed: 1000, due: 1000 });
    expect(share(1)).toMatchObject({ owed: 1 }); // 1.43 credits
    expect(share(699)).toMatchObject({ owed: 998 }); // 998.57
    expect(share(1400)).toMatchObject({ owed: 2000 });
  });

  it('counts refunds cumulatively: a further refund owes only its own share', () => {
    const first = share(700);
    expect(share(1050, first.owed)).toMatchObject({ owed: 1500, due: 500 });
  });

  it('a repeated or late event owes nothing more', () => {
    expect(share(700, 1000)).toMatchObject({ due: 0 });
    // The event of an earlier, smaller refund arrives after the larger one was settled.
    expect(share(350, 1000)).toMatchObject({ owed: 500, due: 0 });
  });

  it('never takes back more than the session granted', () => {
    expect(share(5000)).toMatchObject({ owed: 2000, due: 2000 });
  });

  it("uses the session's total when the charge has no amount, and owes nothing when neither is known", () => {
    expect(share(700, 0, 0, 1400)).toEqual({ paid: 1400, owed: 1000, due: 1000 });
    expect(share(700, 0, 0, null)).toEqual({ paid: 0, owed: 0, due: 0 });
  });

  it('debits what the balance covers and forgives the rest', () => {
    expect(debitWithinBalance(1000, 5000)).toEqual({ debit: 1000, forgiven: 0 });
    expect(debitWithinBalance(1000, 200)).toEqual({ debit: 200, forgiven: 800 });
    expect(debitWithinBalance(1000, 0)).toEqual({ debit: 0, forgiven: 1000 });
  });

  it('forgives a shortfall once: a further refund of the same charge does not collect it', () => {
    // Half refunded while only 200 credits are left: 1,000 owed, 200 debited, 800 forgiven.
    const half = share(700);
    expect(debitWithinBalance(half.due, 200)).toEqual({ debit: 200, forgiven: 800 });
    // The org buys again (balance 1,000); the charge is refunded a further 10%: 1,200 owed in
    // all, 1,000 of it settled, so 200 more, not the 800 forgiven on top.
    const further = share(840, half.owed);
    expect(further).toMatchObject({ owed: 1200, due: 200 });
    expect(debitWithinBalance(further.due, 1000)).toEqual({ debit: 200, forgiven: 0 });
  });

  it('whatever the order and duplication of refund events, the debits add up to the final share', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }).chain((bundles) =>
          fc.record({
            credits: fc.constant(bundles * 1000),
            paid: fc.constant(bundles * 700),
            steps: fc.array(fc.integer({ min: 1, max: bundles * 700 }), { minLength: 1, maxLength: 5 }),
            order: fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
          }),
        ),
        ({ credits, paid, steps, order }) => {
          // Cumulative refunded amounts, each event delivered twice, in a shuffled order.
          const cumulative = [...steps].sort((a, b) => a - b);
          const deliveries = [...cumulative, ...cumulative]
            .map((refunded, i) => ({ refunded, key: order[i % order.length] }))
            .sort((a, b) => a.key - b.key);
          let settled = 0;
          let debited = 0;
          for (const { refunded } of deliveries) {
            const { owed, due } = refundShare({ credits, settled, chargeAmount: paid, sessionAmount: paid, refunded });
            if (due === 0) continue;
            settled = owed;
            debited += debitWithinBalance(due, Number.MAX_SAFE_INTEGER).debit;
          }
          const final = Math.floor((credits * cumulative[cumulative.length - 1]) / paid);
          expect(debited).toBe(final);
          expect(debited).toBeLessThanOrEqual(credits);
        },
      ),
    );
  });
});
