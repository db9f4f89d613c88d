/** Refunding a charge, as the `/_emulator/charges/{id}/refund` control does it (see README). */
import { DEFAULT_API_VERSION, type Context } from '../context';
import { apiVersionOfIntent } from '../payment-intents/intent-confirmation';
import { newId, nowSeconds } from '../stripe-api/ids';
import { invalidRequest, noSuch } from '../stripe-api/stripe-errors';
import type { EventRecord } from '../webhooks/webhook-dispatcher';
import type { Charge, Refund } from './charge';

export interface RefundOutcome {
  refund: Refund;
  charge: Charge;
  event: EventRecord;
}

/** Refunds `amount` (default: what is left) of a succeeded charge; emits `charge.refunded`. */
export function refundCharge(
  ctx: Context,
  chargeId: string,
  opts: { amount?: number; deliver?: boolean } = {},
): RefundOutcome {
  const charge = ctx.store.charges.get(chargeId);
  if (!charge) throw noSuch('charge', chargeId);
  if (charge.status !== 'succeeded')
    throw invalidRequest(`Charge ${chargeId} has not succeeded; it cannot be refunded.`);
  const remaining = charge.amount - charge.amount_refunded;
  if (remaining <= 0) throw invalidRequest(`Charge ${chargeId} has already been refunded.`);
  const amount = opts.amount ?? remaining;
  if (amount > remaining) {
    throw invalidRequest(`Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining}).`);
  }
  const refund: Refund = {
    id: newId('re'),
    object: 'refund',
    created: nowSeconds(),
    amount,
    charge: charge.id,
    currency: charge.currency,
    payment_intent: charge.payment_intent,
    reason: null,
    status: 'succeeded',
    metadata: {},
    balance_transaction: null,
  };
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded >= charge.amount;
  charge.refunds.data.unshift(refund);
  charge.refunds.total_count = charge.refunds.data.length;
  const intent = charge.payment_intent ? ctx.store.paymentIntents.get(charge.payment_intent) : undefined;
  const apiVersion = intent ? apiVersionOfIntent(ctx, intent) : DEFAULT_API_VERSION;
  const event = ctx.webhooks.emit('charge.refunded', structuredClone(charge), apiVersion, opts.deliver !== false);
  return { refund, charge, event };
}
