import { defineJob } from '@credits/jobs';

/**
 * Charges one refill's card. Written with the refill, in the transaction of the debit that
 * started it. A run that fails before Stripe answers (Stripe down, no answer in time) is
 * retried; every run sends the refill's own idempotency key, so Stripe charges once however
 * many runs reach it. A decline is an answer, not a failure: never retried.
 */
export const autoRefillChargeJob = defineJob<{ refillId: string }>({
  name: 'auto-refill-charge',
  retry: { limit: 5, delaySeconds: 10, backoff: true },
  // Written inside the debit's transaction, so no worker is woken for it: at the queue's 2 s
  // poll with one worker, an instance charged one refill per 2 s across all orgs (the
  // autorefill bench: 4 s from crossing to credits, orgs spending dry meanwhile). Two workers
  // polling every 0.5 s start a refill within half a second of the debit's commit.
  concurrency: 2,
  pollingIntervalSeconds: 0.5,
  expireInSeconds: 120,
  retentionDays: 2,
});

export interface PaymentDetailsJobData {
  orgId: string;
  paymentIntentId: string;
  /** The ledger entry whose `receipt_url` to fill. */
  entryId: string;
  /** The buyer asked to keep the card (checkout's `save_payment_method`). */
  savePaymentMethod: boolean;
  /**
   * The card was kept with the grant, in its transaction (read from Stripe before it): only
   * making it the customer's default at Stripe is left. Absent in jobs sent before that.
   */
  cardSaved?: boolean;
}

/**
 * After a payment's credits are granted (and only then: written in the grant's transaction),
 * does what the grant did not: fills the charge's receipt on the ledger entry when it was not
 * known, and, when the buyer asked to keep the card, makes it the customer's default at Stripe
 * and keeps it for auto-refill if the grant could not. The grant never waits for it nor
 * depends on it; each run sets the same values again.
 */
export const paymentDetailsJob = defineJob<PaymentDetailsJobData>({
  name: 'payment-details',
  retry: { limit: 8, delaySeconds: 10, backoff: true },
  // One per purchase, each a Stripe call or two: a burst of purchases leaves a backlog, which
  // every fetch sorts (JobDefinition.batchSize); eight per fetch, run together.
  batchSize: 8,
  expireInSeconds: 120,
  retentionDays: 3,
});
