/**
 * What Checkout does to a session once created: the customer paying it (at once or by a delayed
 * method settled later), and expiry. The hosted page and the `/_emulator` controls run these;
 * a refusal is a `StripeHttpError` with the status and message they answer.
 */
import type { Charge } from '../charges/charge';
import { createCharge } from '../charges/create-charge';
import { DEFAULT_API_VERSION, type Context } from '../context';
import { newCustomer } from '../customers/customer';
import { saveForFutureUse } from '../payment-intents/intent-confirmation';
import { newPaymentIntent, type PaymentIntent } from '../payment-intents/payment-intent';
import { newCardPaymentMethod } from '../payment-methods/card-payment-methods';
import { chargeOutcome, TEST_CARDS, testCard, type CardDecline, type TestCard } from '../payment-methods/test-cards';
import { nowSeconds } from '../stripe-api/ids';
import { invalidRequest, noSuch, StripeHttpError } from '../stripe-api/stripe-errors';
import type { EventRecord } from '../webhooks/webhook-dispatcher';
import type { CheckoutSession } from './checkout-session';

export interface PaymentOutcome {
  session: CheckoutSession;
  payment_intent: PaymentIntent | null;
  charge: Charge | null;
  events: EventRecord[];
}

function apiVersionOf(ctx: Context, session: CheckoutSession): string {
  return ctx.store.sessionExtras.get(session.id)?.apiVersion || DEFAULT_API_VERSION;
}

export function sessionOrThrow(ctx: Context, id: string): CheckoutSession {
  const session = ctx.store.sessions.get(id);
  if (!session) throw noSuch('checkout.session', id);
  return session;
}

/** Expires an open session whose `expires_at` has passed (Stripe does it shortly after). */
export function expireIfDue(ctx: Context, session: CheckoutSession): void {
  if (session.status === 'open' && session.expires_at <= nowSeconds()) {
    expireSession(ctx, session, true);
  }
}

export function expireSession(ctx: Context, session: CheckoutSession, deliver: boolean): EventRecord {
  if (session.status !== 'open') {
    throw invalidRequest(
      `Only Checkout Sessions with a status of 'open' can be expired; this one is '${session.status}'.`,
    );
  }
  session.status = 'expired';
  session.url = null;
  return ctx.webhooks.emit('checkout.session.expired', structuredClone(session), apiVersionOf(ctx, session), deliver);
}

/**
 * Completes an open session as Checkout does when the customer pays.
 * `async`: a delayed payment method — `complete` with `payment_status: 'unpaid'`
 * until `asyncResult` settles it.
 */
export function paySession(
  ctx: Context,
  id: string,
  opts: { async?: boolean; deliver?: boolean; paymentMethod?: string } = {},
): PaymentOutcome {
  const session = sessionOrThrow(ctx, id);
  expireIfDue(ctx, session);
  if (session.status !== 'open') {
    throw new StripeHttpError(410, {
      type: 'invalid_request_error',
      message: `This Checkout Session is no longer open (status: ${session.status}).`,
    });
  }
  const card = opts.paymentMethod === undefined && opts.async ? null : cardOrThrow(opts.paymentMethod);
  const outcome = card ? chargeOutcome(card, { offSession: false, checkout: true }) : { kind: 'processing' as const };
  // Checkout shows a declined card on its page: the session stays open for another card.
  if (outcome.kind === 'decline') throw cardDeclined(outcome.decline);
  // The hosted page stands for the customer completing 3-D Secure: `requires_action` ends paid.
  const delayed = opts.async === true || outcome.kind === 'processing';
  const extras = ctx.store.sessionExtras.get(session.id);
  const setupFutureUsage = extras?.setupFutureUsage ?? null;
  // Checkout creates a customer when it must save the card (`setup_future_usage`) or is told to.
  if (!session.customer && (session.customer_creation === 'always' || (setupFutureUsage && card))) {
    const created = newCustomer({
      name: null,
      email: session.customer_email ?? 'customer@example.com',
      description: null,
      phone: null,
      metadata: {},
    });
    ctx.store.customers.set(created.id, created);
    session.customer = created.id;
  }
  const customer = session.customer ? ctx.store.customers.get(session.customer) : undefined;
  const email = customer?.email ?? session.customer_email ?? 'customer@example.com';
  const pm = card ? newCardPaymentMethod(ctx, card, email) : null;
  const intent = newPaymentIntent({
    amount: session.amount_total,
    amount_received: delayed ? 0 : session.amount_total,
    currency: session.currency,
    customer: session.customer,
    description: extras?.paymentIntentDescription ?? null,
    metadata: { ...(extras?.paymentIntentMetadata ?? {}) },
    payment_method_types: pm ? ['card'] : ['us_bank_account'],
    status: delayed ? 'processing' : 'succeeded',
    payment_method: pm?.id ?? null,
    setup_future_usage: setupFutureUsage,
  });
  ctx.store.paymentIntents.set(intent.id, intent);
  ctx.store.sessionByPaymentIntent.set(intent.id, session.id);
  const charge = createCharge(ctx, intent, delayed ? 'pending' : 'succeeded', pm);
  if (pm && !delayed) saveForFutureUse(intent, pm);

  session.status = 'complete';
  session.payment_status = delayed ? 'unpaid' : 'paid';
  session.payment_intent = intent.id;
  session.url = null;
  session.customer_details = {
    email,
    name: customer?.name ?? null,
    phone: null,
    address: null,
    tax_exempt: 'none',
    tax_ids: [],
  };
  const event = ctx.webhooks.emit(
    'checkout.session.completed',
    structuredClone(session),
    apiVersionOf(ctx, session),
    opts.deliver !== false,
  );
  return { session, payment_intent: intent, charge, events: [event] };
}

/** A `pm_card_*` test card by name (default `pm_card_visa`), or a 400. */
function cardOrThrow(token: string | undefined): TestCard {
  const card = testCard(token ?? 'pm_card_visa');
  if (!card) {
    throw invalidRequest(`Unknown test card '${token}': use one of ${TEST_CARDS.map((c) => c.token).join(', ')}.`);
  }
  return card;
}

/** A card Checkout declined: 402 `card_error`; the session stays open for another card. */
function cardDeclined(decline: CardDecline): StripeHttpError {
  const { code, decline_code, message, param } = decline;
  return new StripeHttpError(402, { type: 'card_error', code, decline_code, message, ...(param ? { param } : {}) });
}

/** Settles a delayed payment: `checkout.session.async_payment_succeeded` or `…_failed`. */
export function asyncResult(ctx: Context, id: string, succeeded: boolean, deliver = true): PaymentOutcome {
  const session = sessionOrThrow(ctx, id);
  const intent = session.payment_intent ? ctx.store.paymentIntents.get(session.payment_intent) : undefined;
  if (
    session.status !== 'complete' ||
    session.payment_status !== 'unpaid' ||
    !intent ||
    intent.status !== 'processing'
  ) {
    throw invalidRequest('Only a completed session whose delayed payment is still processing can be settled.');
  }
  const charge = intent.latest_charge ? (ctx.store.charges.get(intent.latest_charge) ?? null) : null;
  if (succeeded) {
    intent.status = 'succeeded';
    intent.amount_received = intent.amount;
    session.payment_status = 'paid';
    const pm = intent.payment_method ? ctx.store.paymentMethods.get(intent.payment_method) : undefined;
    if (pm) saveForFutureUse(intent, pm);
    if (charge) {
      charge.status = 'succeeded';
      charge.paid = true;
      charge.captured = true;
      charge.amount_captured = charge.amount;
    }
  } else {
    intent.status = 'requires_payment_method';
    session.payment_status = 'unpaid';
    if (charge) {
      charge.status = 'failed';
      charge.failure_code = 'insufficient_funds';
      charge.failure_message = 'The account has insufficient funds to cover the payment.';
    }
  }
  const type = succeeded ? 'checkout.session.async_payment_succeeded' : 'checkout.session.async_payment_failed';
  const event = ctx.webhooks.emit(type, structuredClone(session), apiVersionOf(ctx, session), deliver);
  return { session, payment_intent: intent, charge, events: [event] };
}
