import { testCard } from '../cards';
import { newCardPaymentMethod } from '../charging';
import { ok, type ApiHandler, type Context } from '../context';
import { noSuch } from '../errors';
import type { PaymentMethod } from '../objects';
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
