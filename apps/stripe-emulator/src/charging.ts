import { DEFAULT_API_VERSION, type Context } from './context';
import { emptyBillingDetails, type Charge, type PaymentError, type PaymentIntent, type PaymentMethod } from './objects';
import { chargeOutcome, TEST_CARDS, testCard, type CardDecline, type TestCard } from './payment-methods/test-cards';
import { newId, nowSeconds } from './stripe-api/ids';
import type { EventRecord } from './webhooks/webhook-dispatcher';

/**
 * Payment methods and charging them: what turns a `pm_card_*` test card into a saved
 * PaymentMethod, and a confirmed PaymentIntent into a charge, a decline or a wait — shared
 * by Checkout (on-session) and `POST /v1/payment_intents` (off-session).
 */

function snapshot<T>(value: T): T {
  return structuredClone(value);
}

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

export function attachPaymentMethod(pm: PaymentMethod, customerId: string): void {
  pm.customer = customerId;
}

function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

export function apiVersionOfIntent(ctx: Context, intent: PaymentIntent): string {
  const sessionId = ctx.store.sessionByPaymentIntent.get(intent.id);
  const fromSession = sessionId ? ctx.store.sessionExtras.get(sessionId)?.apiVersion : undefined;
  return ctx.store.apiVersions.get(intent.id) || fromSession || DEFAULT_API_VERSION;
}

/** A charge for `intent` on `pm` (none for a delayed bank payment), with its receipt page. */
export function createCharge(
  ctx: Context,
  intent: PaymentIntent,
  status: Charge['status'],
  pm: PaymentMethod | null,
  decline?: CardDecline,
): Charge {
  const id = newId('ch');
  const customer = intent.customer ? ctx.store.customers.get(intent.customer) : undefined;
  const charge: Charge = {
    id,
    object: 'charge',
    created: nowSeconds(),
    livemode: false,
    amount: intent.amount,
    amount_captured: status === 'succeeded' ? intent.amount : 0,
    amount_refunded: 0,
    captured: status === 'succeeded',
    currency: intent.currency,
    customer: intent.customer,
    description: intent.description,
    metadata: { ...intent.metadata },
    paid: status === 'succeeded',
    payment_intent: intent.id,
    refunded: false,
    refunds: { object: 'list', data: [], has_more: false, total_count: 0, url: `/v1/charges/${id}/refunds` },
    status,
    balance_transaction: null,
    receipt_url: `${ctx.publicUrl}/receipts/${id}`,
    failure_code: decline ? decline.code : null,
    failure_message: decline ? decline.message : null,
    payment_method: pm?.id ?? null,
    payment_method_details: pm
      ? {
          type: 'card',
          card: {
            brand: pm.card.brand,
            checks: pm.card.checks,
            country: pm.card.country,
            exp_month: pm.card.exp_month,
            exp_year: pm.card.exp_year,
            fingerprint: pm.card.fingerprint,
            funding: pm.card.funding,
            last4: pm.card.last4,
            network: pm.card.brand,
            three_d_secure: null,
            wallet: null,
          },
        }
      : { type: intent.payment_method_types[0] ?? 'card' },
    billing_details: pm ? snapshot(pm.billing_details) : emptyBillingDetails(customer?.email ?? null),
    outcome:
      status === 'pending'
        ? null
        : decline
          ? {
              network_status: 'declined_by_network',
              reason: decline.decline_code,
              risk_level: 'normal',
              seller_message: 'The bank did not return any further details with this decline.',
              type: 'issuer_declined',
            }
          : {
              network_status: 'approved_by_network',
              reason: null,
              risk_level: 'normal',
              seller_message: 'Payment complete.',
              type: 'authorized',
            },
    receipt_email: intent.receipt_email,
    receipt_number: null,
    disputed: false,
  };
  ctx.store.charges.set(id, charge);
  intent.latest_charge = id;
  return charge;
}

export interface ConfirmOutcome {
  intent: PaymentIntent;
  charge: Charge | null;
  events: EventRecord[];
  /** A card error: the API answers 402 with it (and the PaymentIntent). */
  error: PaymentError | null;
}

/**
 * Confirms `intent` with its payment method as Stripe does, by the card's test outcome:
 * succeeded (charge, `charge.succeeded`, `payment_intent.succeeded`); declined
 * (`requires_payment_method` with `last_payment_error`, a failed charge, `charge.failed`,
 * `payment_intent.payment_failed`); authentication required off-session (the same, no
 * charge); on-session `requires_action`; or `processing` (`payment_intent.processing`).
 */
export function confirmIntent(
  ctx: Context,
  intent: PaymentIntent,
  pm: PaymentMethod,
  opts: { offSession: boolean; deliver?: boolean },
): ConfirmOutcome {
  const deliver = opts.deliver !== false;
  const apiVersion = apiVersionOfIntent(ctx, intent);
  const emit = (type: string, object: unknown) => ctx.webhooks.emit(type, snapshot(object), apiVersion, deliver);
  intent.payment_method = pm.id;
  intent.last_payment_error = null;
  intent.next_action = null;
  const outcome = chargeOutcome(cardOf(ctx, pm), { offSession: opts.offSession, checkout: false });
  if (outcome.kind === 'requires_action') {
    intent.status = 'requires_action';
    intent.next_action = {
      type: 'use_stripe_sdk',
      use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: `${ctx.publicUrl}/3ds/${intent.id}` },
    };
    return { intent, charge: null, events: [emit('payment_intent.requires_action', intent)], error: null };
  }
  if (outcome.kind === 'processing') {
    intent.status = 'processing';
    const charge = createCharge(ctx, intent, 'pending', pm);
    return { intent, charge, events: [emit('payment_intent.processing', intent)], error: null };
  }
  if (outcome.kind === 'decline') return decline(ctx, intent, pm, outcome.decline, emit);
  intent.status = 'succeeded';
  intent.amount_received = intent.amount;
  const charge = createCharge(ctx, intent, 'succeeded', pm);
  saveForFutureUse(intent, pm);
  return {
    intent,
    charge,
    events: [emit('charge.succeeded', charge), emit('payment_intent.succeeded', intent)],
    error: null,
  };
}

function decline(
  ctx: Context,
  intent: PaymentIntent,
  pm: PaymentMethod,
  d: CardDecline,
  emit: (type: string, object: unknown) => EventRecord,
): ConfirmOutcome {
  // Stripe asks for authentication before any authorization: no charge is attempted.
  const charge = d.code === 'authentication_required' ? null : createCharge(ctx, intent, 'failed', pm, d);
  const error: PaymentError = {
    type: 'card_error',
    code: d.code,
    decline_code: d.decline_code,
    message: d.message,
    ...(d.param ? { param: d.param } : {}),
    doc_url: docUrl(d.code),
    ...(charge ? { charge: charge.id } : {}),
    payment_method: snapshot(pm),
  };
  intent.status = 'requires_payment_method';
  intent.payment_method = null;
  intent.last_payment_error = error;
  const events = charge ? [emit('charge.failed', charge)] : [];
  events.push(emit('payment_intent.payment_failed', intent));
  return { intent, charge, events, error };
}

/** `setup_future_usage` with a customer: a successful payment attaches the card, as Stripe does. */
export function saveForFutureUse(intent: PaymentIntent, pm: PaymentMethod): void {
  if (intent.setup_future_usage && intent.customer && !pm.customer) attachPaymentMethod(pm, intent.customer);
}

/** Settles a `processing` PaymentIntent (no Checkout Session) as succeeded, with Stripe's events. */
export function settleIntent(ctx: Context, intent: PaymentIntent, deliver = true): ConfirmOutcome {
  const apiVersion = apiVersionOfIntent(ctx, intent);
  const emit = (type: string, object: unknown) => ctx.webhooks.emit(type, snapshot(object), apiVersion, deliver);
  const charge = intent.latest_charge ? (ctx.store.charges.get(intent.latest_charge) ?? null) : null;
  const pm = intent.payment_method ? ctx.store.paymentMethods.get(intent.payment_method) : undefined;
  intent.status = 'succeeded';
  intent.amount_received = intent.amount;
  if (charge) {
    charge.status = 'succeeded';
    charge.paid = true;
    charge.captured = true;
    charge.amount_captured = charge.amount;
    charge.outcome = {
      network_status: 'approved_by_network',
      reason: null,
      risk_level: 'normal',
      seller_message: 'Payment complete.',
      type: 'authorized',
    };
  }
  if (pm) saveForFutureUse(intent, pm);
  const events = charge ? [emit('charge.succeeded', charge)] : [];
  events.push(emit('payment_intent.succeeded', intent));
  return { intent, charge, events, error: null };
}
