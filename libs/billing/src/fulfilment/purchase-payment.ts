import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { receiptUrlOf, StripeGateway } from '@credits/stripe';
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

/** What to expand when retrieving a session whose buyer asked to keep the card: `of` then needs no call of its own. */
export const PURCHASE_PAYMENT_EXPAND = ['payment_intent.payment_method', 'payment_intent.latest_charge'];

/**
 * Reads the card a buyer asked to keep (and the receipt) before the purchase is granted, so
 * the grant keeps the card in its own transaction: as soon as the purchase shows, auto-refill
 * shows the card and can be turned on.
 */
@Injectable()
export class PurchasePaymentSource {
  private readonly logger = new Logger('Fulfilment');

  constructor(private readonly stripe: StripeGateway) {}

  /**
   * For a paid session whose buyer asked to keep the card (its metadata, which we wrote): the
   * card and the receipt of its PaymentIntent, expanded in `session` (`PURCHASE_PAYMENT_EXPAND`)
   * or asked of Stripe now. Undefined otherwise, and when Stripe cannot answer now: the grant
   * does not wait for it, and the payment details job keeps the card after the grant.
   */
  async of(session: Stripe.Checkout.Session): Promise<PurchasePayment | undefined> {
    if (session.metadata?.save_payment_method !== 'true' || session.payment_status !== 'paid') return undefined;
    const paymentIntent = paymentIntentOf(session);
    if (!paymentIntent) return undefined;
    try {
      const expanded = typeof session.payment_intent === 'object' ? session.payment_intent : null;
      const intent =
        expanded && typeof expanded?.payment_method === 'object'
          ? expanded
          : await this.stripe.retrievePaymentIntent(paymentIntent, { expand: ['payment_method', 'latest_charge'] });
      if (!intent) return undefined;
      const method = typeof intent.payment_method === 'object' ? intent.payment_method : null;
      return { card: method?.card ? savedCardOf(method) : null, receiptUrl: receiptUrlOf(intent) };
    } catch (error) {
      this.logger.warn({
        msg: 'the card to keep could not be read before the grant; the payment details job keeps it',
        checkout_session_id: session.id,
        err: error,
      });
      return undefined;
    }
  }
}
