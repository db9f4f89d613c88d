/**
 * Confirming a PaymentIntent: by its card's test outcome, a charge, a decline or a wait, with
 * Stripe's events; and settling one left `processing`.
 */
import { approvedOutcome, type Charge } from '../charges/charge';
import { createCharge } from '../charges/create-charge';
import { DEFAULT_API_VERSION, type Context } from '../context';
import { cardOf } from '../payment-methods/card-payment-methods';
import type { PaymentMethod } from '../payment-methods/payment-method';
import { chargeOutcome, type CardDecline } from '../payment-methods/test-cards';
import type { EventRecord } from '../webhooks/webhook-dispatcher';
import type { PaymentError, PaymentIntent } from './payment-intent';

/** Stripe's card errors link to the page of their code. */
function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

/**
 * The `Stripe-Version` an intent's events carry: the request that created it, or (paid through
 * Checkout) the one that created its session.
 */
export function apiVersionOfIntent(ctx: Context, intent: PaymentIntent): string {
  const sessionId = ctx.store.sessionByPaymentIntent.get(intent.id);
  const fromSession = sessionId ? ctx.store.sessionExtras.get(sessionId)?.apiVersion : undefined;
  return ctx.store.apiVersions.get(intent.id) || fromSession || DEFAULT_API_VERSION;
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
  const emit = (type: string, object: unknown) => ctx.webhooks.emit(type, structuredClone(object), apiVersion, deliver);
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
    payment_method: structuredClone(pm),
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
  if (intent.setup_future_usage && intent.customer && !pm.customer) pm.customer = intent.customer;
}

/** Settles a `processing` PaymentIntent (no Checkout Session) as succeeded, with Stripe's events. */
export function settleIntent(ctx: Context, intent: PaymentIntent, deliver = true): ConfirmOutcome {
  const apiVersion = apiVersionOfIntent(ctx, intent);
  const emit = (type: string, object: unknown) => ctx.webhooks.emit(type, structuredClone(object), apiVersion, deliver);
  const charge = intent.latest_charge ? (ctx.store.charges.get(intent.latest_charge) ?? null) : null;
  const pm = intent.payment_method ? ctx.store.paymentMethods.get(intent.payment_method) : undefined;
  intent.status = 'succeeded';
  intent.amount_received = intent.amount;
  if (charge) {
    charge.status = 'succeeded';
    charge.paid = true;
    charge.captured = true;
    charge.amount_captured = charge.amount;
    charge.outcome = approvedOutcome();
  }
  if (pm) saveForFutureUse(intent, pm);
  const events = charge ? [emit('charge.succeeded', charge)] : [];
  events.push(emit('payment_intent.succeeded', intent));
  return { intent, charge, events, error: null };
}
