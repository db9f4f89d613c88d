import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import type { DbTransaction } from '@credits/database';
import { jobSend } from '@credits/jobs';
import {
  CheckoutSessionChanges,
  CheckoutSessionRepository,
  CheckoutSessionRow,
} from '../checkout/checkout-session.repository';
import { paymentDetailsJob } from '../auto-refill/auto-refill-jobs';
import { AutoRefillRepository } from '../auto-refill/auto-refill.repository';
import { LedgerService } from '../ledger/ledger.service';
import { paymentIntentOf } from './checkout-session-source';
import { PermanentFailure } from './permanent-failure';
import type { PurchasePayment } from './purchase-payment';
import type { SubscribedTypes } from '../notifications/notification-events';
import { debitWithinBalance, refundShare } from './refund-arithmetic';

/** A session Checkout reports paid, or needing no payment: its completion grants. */
function isPaid(session: Stripe.Checkout.Session): boolean {
  return session.payment_status === 'paid' || session.payment_status === 'no_payment_required';
}

/**
 * The session `event` grants whatever our record of it says (a paid completion, a delayed
 * payment that succeeded), or undefined: the statement that records such an event can mark the
 * session granted too (`StripeEventWriter.recordProcessedGranting`).
 */
export function sessionGrantedBy(event: Stripe.Event): Stripe.Checkout.Session | undefined {
  if (event.type === 'checkout.session.completed' && isPaid(event.data.object)) return event.data.object;
  if (event.type === 'checkout.session.async_payment_succeeded') return event.data.object;
  return undefined;
}

/**
 * What each Stripe event does to a purchase (our record of a Checkout session) and to the
 * ledger, inside the event's transaction. Grants are keyed on the Checkout session id
 * (`purchase:<cs_id>`, unique), so duplicates, concurrency and any order of `completed` /
 * `async_payment_succeeded` grant once. The credits granted come from our own record of the
 * session, never from the event body; a refund's amounts are the charge's, from the signed event.
 */
@Injectable()
export class PurchaseEvents {
  private readonly logger = new Logger(PurchaseEvents.name);

  constructor(
    private readonly sessions: CheckoutSessionRepository,
    private readonly ledger: LedgerService,
    private readonly cards: AutoRefillRepository,
  ) {}

  /**
   * True when this call granted the session's credits (false: already granted, or not paid
   * yet). `payment`: the card to keep and the receipt, read from Stripe before the transaction.
   * `subscribed`: the notification event types some endpoint takes, when the transaction read
   * them (`StripeEventWriter.recordProcessedLocking` or `recordProcessedGranting`); a grant no
   * one takes writes no delivery job.
   */
  async completed(
    tx: DbTransaction,
    session: Stripe.Checkout.Session,
    locked?: CheckoutSessionRow,
    payment?: PurchasePayment,
    subscribed?: SubscribedTypes,
  ): Promise<boolean> {
    if (isPaid(session)) {
      const row = await this.lock(tx, session.id, locked);
      return (await this.grant(tx, row, paymentIntentOf(session), payment, subscribed)).applied;
    }
    // Paid later by an async method: wait for async_payment_succeeded.
    await this.transition(tx, session.id, locked, (row) =>
      row.status === 'open'
        ? {
            status: 'complete',
            paymentStatus: session.payment_status,
            stripePaymentIntentId: paymentIntentOf(session) ?? row.stripePaymentIntentId,
          }
        : undefined,
    );
    return false;
  }

  async paid(
    tx: DbTransaction,
    session: Stripe.Checkout.Session,
    locked?: CheckoutSessionRow,
    payment?: PurchasePayment,
    subscribed?: SubscribedTypes,
  ): Promise<boolean> {
    const row = await this.lock(tx, session.id, locked);
    return (await this.grant(tx, row, paymentIntentOf(session), payment, subscribed)).applied;
  }

  failed(tx: DbTransaction, sessionId: string, locked?: CheckoutSessionRow): Promise<void> {
    return this.transition(tx, sessionId, locked, (row) =>
      row.fulfilledAt ? undefined : { status: 'failed', paymentStatus: 'unpaid' },
    );
  }

  expired(tx: DbTransaction, sessionId: string, locked?: CheckoutSessionRow): Promise<void> {
    return this.transition(tx, sessionId, locked, (row) => (row.status === 'open' ? { status: 'expired' } : undefined));
  }

  /**
   * A refund debits the refunded share of the session's credits (`refundShare`), never more
   * than the session granted, and never below a zero balance: credits already spent are
   * forgiven (logged for an operator), not clawed back into a negative balance, nor from a
   * later purchase when the same charge is refunded further (`refund_settled_credits` counts
   * them as settled).
   */
  async refunded(
    tx: DbTransaction,
    charge: Stripe.Charge,
    sessionId: string | undefined,
    locked?: CheckoutSessionRow,
    subscribed?: SubscribedTypes,
  ): Promise<void> {
    if (!sessionId) throw new PermanentFailure(`refund for charge ${charge.id} matches no checkout session`);
    let row = await this.lock(tx, sessionId, locked);
    if (!row.fulfilledAt) {
      // The refund overtook the payment event (Stripe does not keep order). A charge that was
      // refunded was paid: grant now, so the debit below has something to debit and the
      // payment event, when it comes, finds the grant done.
      if (!(charge.paid && charge.status === 'succeeded')) {
        throw new PermanentFailure(
          `refund for charge ${charge.id}, which was never paid, on unfulfilled checkout session ${row.id}`,
        );
      }
      ({ row } = await this.grant(tx, row, paymentIntentOf(charge), undefined, subscribed));
    }
    const { paid, owed, due } = refundShare({
      credits: row.credits,
      settled: row.refundSettledCredits,
      chargeAmount: charge.amount,
      sessionAmount: row.amountTotal,
      refunded: charge.amount_refunded,
    });
    if (due === 0) return;
    // Settled from now on, whether debited below or forgiven because it was already spent.
    await this.sessions.in(tx).update(row.orgId, row.id, { refundSettledCredits: owed });
    // A refund takes what is spendable (never what a hold reserved), its purchase's grant first.
    await this.ledger.lockBalance(tx, row.orgId);
    const balance = (await this.ledger.spendable(tx, row.orgId)).available;
    const { debit, forgiven } = debitWithinBalance(due, balance);
    if (forgiven > 0) {
      this.logger.warn({
        msg: 'refund exceeds the spendable balance; debiting what is left, forgiving the rest',
        checkout_session_id: row.id,
        owed: due,
        balance,
        forgiven,
      });
    }
    if (debit === 0) return;
    await this.ledger.apply(tx, {
      orgId: row.orgId,
      amount: -debit,
      transactionType: 'refund',
      description: `Refund of ${charge.amount_refunded} of ${paid} ${(charge.currency ?? row.currency ?? '').toUpperCase()} (charge ${charge.id})`,
      sourceRef: `refund:${charge.id}:${charge.amount_refunded}`,
      checkoutSessionId: row.id,
      drawFirstFrom: `purchase:${row.id}`,
    });
  }

  /**
   * Grants a locked session's credits (once: `purchase:<cs_id>` is unique) and marks it
   * fulfilled; `applied`: whether this call granted them. The card the buyer asked to keep
   * (`payment`) is kept in the same transaction: whoever sees the purchase can turn
   * auto-refill on.
   */
  private async grant(
    tx: DbTransaction,
    row: CheckoutSessionRow,
    paymentIntent: string | null,
    payment?: PurchasePayment,
    subscribed?: SubscribedTypes,
  ): Promise<{ row: CheckoutSessionRow; applied: boolean }> {
    const changes = {
      status: 'complete' as const,
      paymentStatus: 'paid',
      fulfilledAt: row.fulfilledAt ?? new Date(),
      stripePaymentIntentId: paymentIntent ?? row.stripePaymentIntentId,
    } satisfies CheckoutSessionChanges;
    // The session is marked granted either way (a grant already in the ledger means it was
    // paid all the same), before the credit: the credit locks the org's balance row until the
    // commit, and every statement after it lengthens the queue of the org's other grants. A
    // session marked so already (by the statement that recorded the event,
    // `recordProcessedGranting`, or an earlier grant) has nothing to write.
    const marked =
      row.status === changes.status &&
      row.paymentStatus === changes.paymentStatus &&
      row.fulfilledAt !== null &&
      row.stripePaymentIntentId === changes.stripePaymentIntentId;
    if (!marked) await this.sessions.in(tx).update(row.orgId, row.id, changes);
    // What the grant cannot do (the receipt or the card not read before it, the card made the
    // customer's default at Stripe) is done after it commits, by a job written with it: a
    // Stripe call never holds the grant's transaction open, and its failure never undoes the
    // grant. The ledger writes the job before the credit (for the same reason as the update
    // above) and withdraws it if the credit writes nothing: only the call that granted sends
    // it, so once.
    const entryId = randomUUID();
    const card = row.savePaymentMethod ? (payment?.card ?? null) : null;
    const paid = changes.stripePaymentIntentId;
    const details =
      paid && (!payment?.receiptUrl || row.savePaymentMethod)
        ? jobSend(paymentDetailsJob, {
            orgId: row.orgId,
            paymentIntentId: paid,
            entryId,
            savePaymentMethod: row.savePaymentMethod,
            cardSaved: card !== null,
          })
        : undefined;
    const { applied } = await this.ledger.apply(tx, {
      orgId: row.orgId,
      entryId,
      jobs: details ? [details] : [],
      amount: row.credits,
      transactionType: 'purchase',
      description: `Purchase of ${row.bundles} credit bundle${row.bundles === 1 ? '' : 's'} (${row.credits} credits)`,
      sourceRef: `purchase:${row.id}`,
      checkoutSessionId: row.id,
      receiptUrl: payment?.receiptUrl ?? null,
      subscribed,
    });
    if (!applied) return { row: { ...row, ...changes }, applied };
    this.logger.log({ msg: 'credits granted', checkout_session_id: row.id, org_id: row.orgId, credits: row.credits });
    // Only the call that granted keeps the card: a later payment's card is not replaced by an
    // earlier one's, redelivered.
    if (card) await this.cards.in(tx).saveCard(row.orgId, card);
    return { row: { ...row, ...changes }, applied };
  }

  private async transition(
    tx: DbTransaction,
    sessionId: string,
    locked: CheckoutSessionRow | undefined,
    change: (row: CheckoutSessionRow) => CheckoutSessionChanges | undefined,
  ): Promise<void> {
    const row = await this.lock(tx, sessionId, locked);
    const changes = change(row);
    if (changes) await this.sessions.in(tx).update(row.orgId, row.id, changes);
  }

  /** `locked`: the session as this transaction already locked it (no second round trip). */
  private async lock(tx: DbTransaction, sessionId: string, locked?: CheckoutSessionRow): Promise<CheckoutSessionRow> {
    if (locked?.id === sessionId) return locked;
    const row = await this.sessions.in(tx).lock(sessionId);
    if (!row) throw new PermanentFailure(`checkout session ${sessionId} is unknown`);
    return row;
  }
}
