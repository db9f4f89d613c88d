import { newCardPaymentMethod } from '../charging';
import { ok, type ApiHandler, type Context } from '../context';
import type { PaymentMethod } from '../objects';
import { expandObject } from '../stripe-api/expand';
import { stored } from '../stripe-api/retrieve';
import { noSuch } from '../stripe-api/stripe-errors';
import { testCard } from './test-cards';

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
