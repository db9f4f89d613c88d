/**
 * PaymentMethods made from Stripe's `pm_card_*` test cards, and which test card a stored
 * PaymentMethod charges as.
 */
import type { Context } from '../context';
import { newId, nowSeconds } from '../stripe-api/ids';
import { noSuch } from '../stripe-api/stripe-errors';
import { emptyBillingDetails, type PaymentMethod } from './payment-method';
import { TEST_CARDS, testCard, type TestCard } from './test-cards';

/** A new PaymentMethod made from a test card, as Stripe does for each use of a `pm_card_*` shortcut. */
export function newCardPaymentMethod(ctx: Context, card: TestCard, email: string | null = null): PaymentMethod {
  const pm: PaymentMethod = {
    id: newId('pm'),
    object: 'payment_method',
    created: nowSeconds(),
    livemode: false,
    type: 'card',
    allow_redisplay: 'unspecified',
    billing_details: emptyBillingDetails(email),
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
      country: card.country,
      display_brand: card.brand,
      exp_month: card.exp_month,
      exp_year: card.exp_year,
      // Stripe's fingerprint identifies the card number: the same test card, the same fingerprint.
      fingerprint: `emu${card.last4}${card.token.length.toString(36)}`.padEnd(16, 'X').slice(0, 16),
      funding: card.funding,
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      three_d_secure_usage: { supported: true },
      wallet: null,
      regulated_status: null,
    },
    customer: null,
    metadata: {},
  };
  ctx.store.paymentMethods.set(pm.id, pm);
  ctx.store.paymentMethodCards.set(pm.id, card.token);
  return pm;
}

/** The test card behind a PaymentMethod (a visa when the emulator does not know it). */
export function cardOf(ctx: Context, pm: PaymentMethod): TestCard {
  return testCard(ctx.store.paymentMethodCards.get(pm.id) ?? '') ?? TEST_CARDS[0];
}

/**
 * A `payment_method` parameter: a stored `pm_…`, or one of Stripe's `pm_card_*` test cards,
 * which (as at Stripe) makes a new PaymentMethod each time it is used.
 */
export function resolvePaymentMethod(ctx: Context, id: string, param: string): PaymentMethod {
  const card = testCard(id);
  if (card) return newCardPaymentMethod(ctx, card);
  const pm = ctx.store.paymentMethods.get(id);
  if (!pm) throw noSuch('PaymentMethod', id, param);
  return pm;
}
