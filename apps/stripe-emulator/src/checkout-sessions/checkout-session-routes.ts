import { ok, type ApiHandler, type ApiRequest, type Context } from '../context';
import { MAX_AMOUNT, minimumChargeAmount } from '../stripe-api/currencies';
import { expandObject } from '../stripe-api/expand';
import type { FormObject } from '../stripe-api/form-encoding';
import { newId } from '../stripe-api/ids';
import { createdFilter, newestFirst, paginate } from '../stripe-api/lists';
import { optionalString, rejectUnknown } from '../stripe-api/params';
import { stored } from '../stripe-api/retrieve';
import { invalidParam, invalidRequest } from '../stripe-api/stripe-errors';
import type { CheckoutSession, LineItem } from './checkout-session';
import { buildLineItems } from './line-items';
import { expireIfDue } from './session-lifecycle';
import { readSessionParams, type SessionSettings } from './session-params';

/** Validates everything first (settings, line items, totals): a request that fails creates nothing. */
function createSession(ctx: Context, req: ApiRequest): CheckoutSession {
  const { settings, paymentIntentData } = readSessionParams(ctx, req.params);
  const built = buildLineItems(ctx, req.params);
  const { currency, total } = sessionTotal(req.params, built.items);
  const session = newSession(ctx, settings, currency, total);
  for (const product of built.products) ctx.store.products.set(product.id, product);
  for (const price of built.prices) ctx.store.prices.set(price.id, price);
  ctx.store.sessions.set(session.id, session);
  ctx.store.sessionExtras.set(session.id, {
    lineItems: built.items,
    paymentIntentMetadata: paymentIntentData.metadata,
    paymentIntentDescription: paymentIntentData.description,
    apiVersion: req.apiVersion,
    setupFutureUsage: paymentIntentData.setupFutureUsage,
  });
  return session;
}

/** The items' one currency (`currency`, if given, must be it) and their total, within Stripe's bounds. */
function sessionTotal(p: FormObject, items: LineItem[]): { currency: string; total: number } {
  const cur = items[0].currency;
  const requested = optionalString(p, 'currency');
  if (requested && requested.toLowerCase() !== cur) {
    throw invalidParam('currency', `The currency (${requested}) must match the currency of the line items (${cur}).`);
  }
  const total = items.reduce((sum, li) => sum + li.amount_total, 0);
  if (total > MAX_AMOUNT) {
    throw invalidRequest(
      `The Checkout Session's total amount due must be no more than ${MAX_AMOUNT} (in the smallest currency unit).`,
      'line_items',
    );
  }
  const minimum = minimumChargeAmount(cur);
  if (minimum !== undefined && total < minimum) {
    throw invalidRequest(
      `The Checkout Session's total amount due must add up to at least ${minimum} ${cur} (in the smallest currency unit).`,
      'line_items',
    );
  }
  return { currency: cur, total };
}

/** An open, unpaid session on the hosted page; every field the emulator does not model at Stripe's default. */
function newSession(ctx: Context, settings: SessionSettings, currency: string, total: number): CheckoutSession {
  const id = newId('cs');
  return {
    id,
    object: 'checkout.session',
    created: settings.created,
    livemode: false,
    mode: 'payment',
    status: 'open',
    payment_status: 'unpaid',
    url: `${ctx.publicUrl}/pay/${id}`,
    success_url: settings.success_url,
    cancel_url: settings.cancel_url,
    amount_subtotal: total,
    amount_total: total,
    currency,
    customer: settings.customer,
    customer_email: settings.customer_email,
    customer_creation: settings.customer_creation,
    customer_details: null,
    client_reference_id: settings.client_reference_id,
    client_secret: null,
    metadata: settings.metadata,
    expires_at: settings.expires_at,
    payment_intent: null,
    payment_link: null,
    payment_method_types: settings.payment_method_types,
    locale: settings.locale,
    submit_type: settings.submit_type,
    ui_mode: 'hosted',
    allow_promotion_codes: settings.allow_promotion_codes,
    invoice: null,
    subscription: null,
    setup_intent: null,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    automatic_tax: { enabled: false, liability: null, status: null },
  };
}

/** `expand[]=line_items`: the first page of the session's items, as Stripe lists them. */
function render(ctx: Context, session: CheckoutSession, params: FormObject): CheckoutSession {
  const lineItems = () =>
    paginate(
      ctx.store.sessionExtras.get(session.id)?.lineItems ?? [],
      {},
      `/v1/checkout/sessions/${session.id}/line_items`,
    );
  return expandObject(ctx, session, params, { line_items: lineItems });
}

/** A session as it is now: an open one past `expires_at` expires first. */
function findSession(ctx: Context, id: string): CheckoutSession {
  const session = stored(ctx.store.sessions, 'checkout.session', id);
  expireIfDue(ctx, session);
  return session;
}

export const createCheckoutSession: ApiHandler = (ctx, req) => ok(render(ctx, createSession(ctx, req), req.params));

const LIST_PARAMS = new Set([
  'created',
  'customer',
  'customer_details',
  'ending_before',
  'expand',
  'limit',
  'payment_intent',
  'payment_link',
  'starting_after',
  'status',
  'subscription',
]);
const LIST_STATUSES = new Set(['open', 'complete', 'expired']);

/** Newest first, filtered as Stripe's `GET /v1/checkout/sessions`; open sessions past `expires_at` expire first. */
export const listCheckoutSessions: ApiHandler = (ctx, req) => {
  rejectUnknown(req.params, LIST_PARAMS);
  const { payment_intent: pi, customer, status, created, expand: _expand, ...pageParams } = req.params;
  if (status !== undefined && (typeof status !== 'string' || !LIST_STATUSES.has(status))) {
    throw invalidParam('status', `Invalid status: must be one of open, complete, or expired`);
  }
  const inWindow = createdFilter(created);
  for (const session of ctx.store.sessions.values()) expireIfDue(ctx, session);
  let all = newestFirst(ctx.store.sessions.values()).filter((s) => inWindow(s.created));
  if (typeof pi === 'string') all = all.filter((s) => s.payment_intent === pi);
  if (typeof customer === 'string') all = all.filter((s) => s.customer === customer);
  if (typeof status === 'string') all = all.filter((s) => s.status === status);
  return ok(paginate(all, pageParams, '/v1/checkout/sessions'));
};

export const retrieveCheckoutSession: ApiHandler = (ctx, req, { id }) =>
  ok(render(ctx, findSession(ctx, id), req.params));
