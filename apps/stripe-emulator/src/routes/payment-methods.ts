import { chargeOutcome, testCard } from '../cards';
import { attachPaymentMethod, cardOf, newCardPaymentMethod } from '../charging';
import { ok, type ApiHandler, type Context } from '../context';
import { invalidParam, invalidRequest, missingParam, noSuch, StripeHttpError } from '../errors';
import type { FormObject } from '../form';
import type { PaymentMethod } from '../objects';
import { newestFirst, optionalString, paginate, rejectUnknown } from '../validate';
import { expandObject } from './expand';
import { stored } from './retrieve';

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

export const retrievePaymentMethod: ApiHandler = (ctx, req, { id }) =>
  ok(expandObject(ctx, stored(ctx.store.paymentMethods, 'PaymentMethod', id), req.params));

const LIST_PARAMS = new Set([
  'customer',
  'type',
  'limit',
  'starting_after',
  'ending_before',
  'expand',
  'allow_redisplay',
]);

function listFor(ctx: Context, params: FormObject, customer: string | undefined, url: string): unknown {
  const { customer: _c, type, expand: _e, allow_redisplay: _a, ...page } = params;
  if (type !== undefined && type !== 'card') {
    if (typeof type !== 'string') throw invalidParam('type', 'Invalid type: must be a string.');
    return paginate([], page, url);
  }
  const all = newestFirst(ctx.store.paymentMethods.values()).filter((pm) => !customer || pm.customer === customer);
  return paginate(all, page, url);
}

/** `GET /v1/payment_methods?customer=cus_…` */
export const listPaymentMethods: ApiHandler = (ctx, req) => {
  rejectUnknown(req.params, LIST_PARAMS);
  const customer = optionalString(req.params, 'customer');
  if (customer && !ctx.store.customers.has(customer)) throw noSuch('customer', customer, 'customer');
  return ok(listFor(ctx, req.params, customer, '/v1/payment_methods'));
};

/** `GET /v1/customers/{id}/payment_methods` */
export const listCustomerPaymentMethods: ApiHandler = (ctx, req, { id }) => {
  stored(ctx.store.customers, 'customer', id);
  rejectUnknown(req.params, LIST_PARAMS);
  return ok(listFor(ctx, req.params, id, `/v1/customers/${id}/payment_methods`));
};

/**
 * `POST /v1/payment_methods/{id}/attach`: Stripe checks the card with the issuer first, so a
 * card that declines every charge cannot be attached (402), while
 * `pm_card_chargeCustomerFail` and `pm_card_authenticationRequired` can.
 */
export const attachPaymentMethodRoute: ApiHandler = (ctx, req, { id }) => {
  rejectUnknown(req.params, new Set(['customer', 'expand']));
  const customerId = optionalString(req.params, 'customer');
  if (!customerId) throw missingParam('customer');
  if (!ctx.store.customers.has(customerId)) throw noSuch('customer', customerId, 'customer');
  const pm = resolvePaymentMethod(ctx, id, 'payment_method');
  if (pm.customer && pm.customer !== customerId) {
    throw invalidRequest('The payment method you provided has already been attached to a customer.');
  }
  const outcome = chargeOutcome(cardOf(ctx, pm), { offSession: false, checkout: true });
  if (outcome.kind === 'decline') {
    const d = outcome.decline;
    throw new StripeHttpError(402, {
      type: 'card_error',
      code: d.code,
      decline_code: d.decline_code,
      message: d.message,
      ...(d.param ? { param: d.param } : {}),
    });
  }
  attachPaymentMethod(pm, customerId);
  return ok(expandObject(ctx, pm, req.params));
};

/** `POST /v1/payment_methods/{id}/detach`: a customer's default that is detached is no longer its default. */
export const detachPaymentMethod: ApiHandler = (ctx, req, { id }) => {
  rejectUnknown(req.params, new Set(['expand']));
  const pm = stored(ctx.store.paymentMethods, 'PaymentMethod', id);
  if (!pm.customer) throw invalidRequest(`The payment method ${pm.id} is not attached to a customer.`);
  const customer = ctx.store.customers.get(pm.customer);
  if (customer?.invoice_settings.default_payment_method === pm.id)
    customer.invoice_settings.default_payment_method = null;
  pm.customer = null;
  return ok(expandObject(ctx, pm, req.params));
};
