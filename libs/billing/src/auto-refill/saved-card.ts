import type Stripe from 'stripe';
import type { SavedCard } from './auto-refill.repository';

/** The card to keep for auto-refill, as Stripe describes the payment method: its id and what we display. */
export function savedCardOf(method: Stripe.PaymentMethod): SavedCard {
  return {
    paymentMethodId: method.id,
    brand: method.card?.brand ?? null,
    last4: method.card?.last4 ?? null,
    expMonth: method.card?.exp_month ?? null,
    expYear: method.card?.exp_year ?? null,
  };
}
