import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { receiptUrlOf, StripeGateway } from '@credits/stripe';
import { currentDeadline } from '@credits/traffic/deadline';
import type { SavedCard } from '../auto-refill/auto-refill.repository';
import { savedCardOf } from '../auto-refill/saved-card';
import { paymentIntentOf } from './checkout-session-source';

/** What a Checkout payment's grant writes beside its credits, read from Stripe before the grant's transaction. */
export interface PurchasePayment {
  /** The card the buyer asked to keep, for auto-refill. */
  card: SavedCard | null;
  /** The charge's receipt, for the purchase's ledger entry. */
  receiptUrl: string | null;
}

/** What of a PaymentIntent `of` reads: its charge (the receipt), and the card when the buyer keeps it. */
function intentExpand(savePaymentMethod: boolean): string[] {
  return savePaymentMethod ? ['payment_method', 'latest_charge'] : ['latest_charge'];
}

/** What to expand when retrieving a paid session from Stripe: `of` then needs no call of its own. */
export function purchasePaymentExpand(savePaymentMethod: boolean): string[] {
  return intentExpand(savePaymentMethod).map((field) => `payment_intent.${field}`);
}

/**
 * How long a grant waits for Stripe to tell its receipt (and the card to keep) before going on
 * without them: one attempt (at most `STRIPE_TIMEOUT_MS`), not the gateway's retries. The
 * payment details job asks again after the grant, so a slow Stripe delays the credits by this
 * much at most, and the receipt until the job's read.
 */
export const PURCHASE_PAYMENT_WAIT_MS = 2000;

/**
 * Reads a paid session's receipt, and the card when the buyer asked to keep it, before the
 * purchase is granted: the grant writes both in its own transaction, so the purchase shows
 * with its receipt and auto-refill shows the card at once. A purchase that keeps no card then
 * leaves no job; one that keeps a card leaves the job that makes it Stripe's default.
 */
@Injectable()
export class PurchasePaymentSource {
  private readonly logger = new Logger('Fulfilment');

  constructor(private readonly stripe: StripeGateway) {}

  /**
   * For a paid session: the receipt of its PaymentIntent, and the card when the buyer asked to
   * keep it (its metadata, which we wrote), expanded in `session` (`purchasePaymentExpand`) or
   * asked of Stripe now. Undefined when there is no payment, and when Stripe cannot answer
   * within `PURCHASE_PAYMENT_WAIT_MS`: the grant does not wait longer, and the payment details
   * job writes them after it.
   */
  async of(session: Stripe.Checkout.Session): Promise<PurchasePayment | undefined> {
    if (session.payment_status !== 'paid') return undefined;
    const paymentIntent = paymentIntentOf(session);
    if (!paymentIntent) return undefined;
    const saving = session.metadata?.save_payment_method === 'true';
    try {
      const expanded = typeof session.payment_intent === 'object' ? session.payment_intent : null;
      const intent =
        expanded &&
        typeof expanded.latest_charge === 'object' &&
        (!saving || typeof expanded.payment_method === 'object')
          ? expanded
          : await this.stripe.retrievePaymentIntent(
              paymentIntent,
              { expand: intentExpand(saving) },
              { waitMs: PURCHASE_PAYMENT_WAIT_MS },
            );
      if (!intent) return undefined;
      const method = saving && typeof intent.payment_method === 'object' ? intent.payment_method : null;
      return { card: method?.card ? savedCardOf(method) : null, receiptUrl: receiptUrlOf(intent) };
    } catch (error) {
      // The request itself is out of time (it is answered 503 or 504): nothing may be written
      // after that answer, so the grant does not go on without the receipt either.
      if (currentDeadline()?.expired) throw error;
      this.logger.warn({
        msg: 'the receipt could not be read before the grant; the payment details job reads it',
        checkout_session_id: session.id,
        err: error,
      });
      return undefined;
    }
  }
}
