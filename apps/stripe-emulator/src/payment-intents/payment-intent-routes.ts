import { ok, type ApiHandler, type ApiResult, type Context } from '../context';
import { resolvePaymentMethod } from '../payment-methods/card-payment-methods';
import type { PaymentMethod } from '../payment-methods/payment-method';
import { MAX_AMOUNT, minimumChargeAmount } from '../stripe-api/currencies';
import { expandObject } from '../stripe-api/expand';
import type { FormObject } from '../stripe-api/form-encoding';
import { createdFilter, newestFirst, paginate } from '../stripe-api/lists';
import {
  currency,
  metadata,
  optionalBoolean,
  optionalString,
  rejectUnknown,
  requiredInteger,
} from '../stripe-api/params';
import { retrieve } from '../stripe-api/retrieve';
import { invalidParam, invalidRequest, noSuch } from '../stripe-api/stripe-errors';
import { confirmIntent, type ConfirmOutcome } from './intent-confirmation';
import { newPaymentIntent, type PaymentIntent } from './payment-intent';

/** Every parameter Stripe documents for PaymentIntent creation; others are rejected. */
const CREATE_PARAMS = new Set([
  'amount',
  'currency',
  'customer',
  'payment_method',
  'off_session',
  'confirm',
  'metadata',
  'description',
  'payment_method_types',
  'setup_future_usage',
  'receipt_email',
  'statement_descriptor',
  'statement_descriptor_suffix',
  'expand',
  'capture_method',
  'confirmation_method',
  'error_on_requires_action',
  'return_url',
  'automatic_payment_methods',
  'payment_method_options',
  'payment_method_data',
  'payment_method_configuration',
  'excluded_payment_method_types',
  'mandate',
  'mandate_data',
  'shipping',
  'use_stripe_sdk',
  'application_fee_amount',
  'on_behalf_of',
  'transfer_data',
  'transfer_group',
  'radar_options',
  'confirmation_token',
]);

/** `off_session`: a boolean, or Stripe's older `one_off` / `recurring`. */
function readOffSession(p: FormObject): boolean | undefined {
  const value = p.off_session;
  if (value === 'one_off' || value === 'recurring') return true;
  return optionalBoolean(p, 'off_session');
}

function readSetupFutureUsage(p: FormObject): PaymentIntent['setup_future_usage'] {
  const usage = optionalString(p, 'setup_future_usage');
  if (!usage) return null;
  if (usage !== 'off_session' && usage !== 'on_session') {
    throw invalidParam('setup_future_usage', 'Invalid setup_future_usage: must be one of on_session or off_session');
  }
  return usage;
}

/** A saved card belongs to one customer: Stripe refuses it for another customer, or with none. */
function checkOwner(pm: PaymentMethod, customer: string | null): void {
  if (pm.customer && !customer) {
    throw invalidParam(
      'payment_method',
      `The PaymentMethod ${pm.id} is attached to a Customer. Please include the Customer in the \`customer\` parameter on the PaymentIntent.`,
    );
  }
  if (pm.customer && pm.customer !== customer) {
    throw invalidParam('payment_method', `The provided PaymentMethod ${pm.id} belongs to a different Customer.`);
  }
}

/**
 * The answer to a confirmation: the PaymentIntent, or Stripe's 402 card error carrying it.
 * A 402 is returned (not thrown): the request ran, so its idempotency key keeps the answer.
 */
function confirmed(ctx: Context, outcome: ConfirmOutcome, params: FormObject): ApiResult {
  if (!outcome.error) return ok(expandObject(ctx, outcome.intent, params));
  return {
    status: 402,
    body: { error: { ...outcome.error, payment_intent: structuredClone(outcome.intent) } },
  };
}

/** `POST /v1/payment_intents`, Stripe's validation first (a refused request creates nothing), then `confirm`. */
export const createPaymentIntent: ApiHandler = (ctx, req) => {
  const p = req.params;
  rejectUnknown(p, CREATE_PARAMS);
  const amount = requiredInteger(p, 'amount', 'amount', 0, MAX_AMOUNT);
  const cur = currency(p, 'currency', 'currency');
  const minimum = minimumChargeAmount(cur);
  if (minimum !== undefined && amount < minimum) {
    throw invalidParam(
      'amount',
      `Amount must be at least ${minimum} ${cur} (in the smallest currency unit).`,
      'amount_too_small',
    );
  }
  const customer = optionalString(p, 'customer') || null;
  if (customer && !ctx.store.customers.has(customer)) throw noSuch('customer', customer, 'customer');
  const confirm = optionalBoolean(p, 'confirm') ?? false;
  const offSession = readOffSession(p);
  if (offSession !== undefined && !confirm) {
    throw invalidParam('off_session', 'You may only specify `off_session` when `confirm` is true.');
  }
  const setupFutureUsage = readSetupFutureUsage(p);
  const captureMethod = optionalString(p, 'capture_method');
  if (captureMethod && captureMethod !== 'automatic' && captureMethod !== 'automatic_async') {
    throw invalidParam('capture_method', `The Stripe emulator supports only automatic capture (got ${captureMethod}).`);
  }
  const meta = metadata(p) ?? {};
  const description = optionalString(p, 'description', 'description', 1000) || null;
  const receiptEmail = optionalString(p, 'receipt_email', 'receipt_email', 800) || null;
  const pmId = optionalString(p, 'payment_method') || null;
  if (pmId && !pmId.startsWith('pm_card_')) {
    const existing = ctx.store.paymentMethods.get(pmId);
    if (!existing) throw noSuch('PaymentMethod', pmId, 'payment_method');
    checkOwner(existing, customer);
  }
  if (confirm && !pmId) {
    throw invalidRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
      undefined,
      'payment_intent_unexpected_state',
    );
  }
  const pm = pmId ? resolvePaymentMethod(ctx, pmId, 'payment_method') : null;
  const intent = newPaymentIntent({
    amount,
    currency: cur,
    customer,
    description,
    metadata: meta,
    payment_method_types: ['card'],
    payment_method: pm?.id ?? null,
    status: pm ? 'requires_confirmation' : 'requires_payment_method',
    setup_future_usage: setupFutureUsage,
    receipt_email: receiptEmail,
  });
  ctx.store.paymentIntents.set(intent.id, intent);
  ctx.store.apiVersions.set(intent.id, req.apiVersion);
  ctx.webhooks.emit('payment_intent.created', structuredClone(intent), req.apiVersion);
  if (!confirm || !pm) return ok(expandObject(ctx, intent, p));
  return confirmed(ctx, confirmIntent(ctx, intent, pm, { offSession: offSession ?? false }), p);
};

const LIST_PARAMS = new Set(['customer', 'created', 'limit', 'starting_after', 'ending_before', 'expand']);

/** `GET /v1/payment_intents`: newest first, `customer` and `created` filters. */
export const listPaymentIntents: ApiHandler = (ctx, req) => {
  rejectUnknown(req.params, LIST_PARAMS);
  const { customer, created, expand: _e, ...page } = req.params;
  const inWindow = createdFilter(created);
  let all = newestFirst(ctx.store.paymentIntents.values()).filter((pi) => inWindow(pi.created));
  if (typeof customer === 'string') all = all.filter((pi) => pi.customer === customer);
  return ok(paginate(all, page, '/v1/payment_intents'));
};

export const retrievePaymentIntent = retrieve('payment_intent', (store) => store.paymentIntents);
