/**
 * How a refund of a Checkout payment or of an auto-refill's charge turns into credits taken
 * back. Stripe reports what a charge has refunded so far (`amount_refunded`, cumulative), so
 * each refund event recomputes the whole share: partial refunds add up, and a repeated or late
 * event owes nothing more.
 */

export interface RefundShare {
  /** What was paid, in the smallest currency unit: the charge's amount, else the session's total. */
  paid: number;
  /** The credits all refunds so far take back: floor(credits × refunded ÷ paid), never more than granted. */
  owed: number;
  /** What is left to settle now: `owed` less what earlier refunds settled (debited or forgiven). */
  due: number;
}

export function refundShare(input: {
  /** The credits the payment granted. */
  credits: number;
  /** Credits of the payment's earlier refunds already settled (`refund_settled_credits` of the session or refill). */
  settled: number;
  /** The charge's amount (0 when unknown) and the session's total (null when unknown). */
  chargeAmount: number;
  sessionAmount: number | null;
  /** The charge's cumulative `amount_refunded`. */
  refunded: number;
}): RefundShare {
  const paid = input.chargeAmount || input.sessionAmount || 0;
  const owed = paid > 0 ? Math.min(input.credits, Math.floor((input.credits * input.refunded) / paid)) : 0;
  return { paid, owed, due: Math.max(0, owed - input.settled) };
}

/**
 * What is due comes out of the balance as far as it goes; credits already spent are forgiven,
 * not turned into a debt. Once settled (the caller records `owed`: the Checkout session's or
 * the refill's `refund_settled_credits`), a forgiven shortfall is never owed again, whatever
 * the order of the refund events, so it is forgiven once and never collected from a later
 * purchase.
 */
export function debitWithinBalance(due: number, balance: number): { debit: number; forgiven: number } {
  const debit = Math.max(0, Math.min(due, balance));
  return { debit, forgiven: due - debit };
}
