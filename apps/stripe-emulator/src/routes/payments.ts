import { ok, type ApiHandler } from '../context';
import { invalidParam, missingParam, noSuch, StripeHttpError } from '../errors';
import { FlowError, refundCharge } from '../flows';
import { metadata, newestFirst, optionalInteger, optionalString, paginate, rejectUnknown } from '../validate';
import { expandObject } from './expand';
import { retrieve } from './retrieve';

const REFUND_PARAMS = new Set([
  'charge',
  'payment_intent',
  'amount',
  'reason',
  'metadata',
  'expand',
  'instructions_email',
  'origin',
  'refund_application_fee',
  'reverse_transfer',
]);

export const retrievePaymentIntent = retrieve('payment_intent', (store) => store.paymentIntents);
export const retrieveCharge = retrieve('charge', (store) => store.charges);
export const retrieveRefund = retrieve('refund', (store) => store.refunds);

export const listRefunds: ApiHandler = (ctx, req) => {
  const { charge, payment_intent: pi, expand: _e, ...rest } = req.params;
  let all = newestFirst(ctx.store.refunds.values());
  if (typeof charge === 'string') all = all.filter((r) => r.charge === charge);
  if (typeof pi === 'string') all = all.filter((r) => r.payment_intent === pi);
  return ok(paginate(all, rest, '/v1/refunds'));
};

export const createRefund: ApiHandler = (ctx, req) => {
  const p = req.params;
  rejectUnknown(p, REFUND_PARAMS);
  let chargeId = optionalString(p, 'charge');
  const intentId = optionalString(p, 'payment_intent');
  if (chargeId && intentId) {
    throw invalidParam('payment_intent', 'You may only specify one of these parameters: charge, payment_intent.');
  }
  if (intentId) {
    const intent = ctx.store.paymentIntents.get(intentId);
    if (!intent) throw noSuch('payment_intent', intentId, 'payment_intent');
    if (!intent.latest_charge) {
      throw invalidParam(
        'payment_intent',
        `This PaymentIntent (${intentId}) does not have a successful charge to refund.`,
        'charge_not_refundable',
      );
    }
    chargeId = intent.latest_charge;
  }
  if (!chargeId) throw missingParam('charge');
  if (!ctx.store.charges.has(chargeId)) throw noSuch('charge', chargeId, 'charge');
  const reason = optionalString(p, 'reason') || null;
  if (reason && !['duplicate', 'fraudulent', 'requested_by_customer'].includes(reason)) {
    throw invalidParam('reason', 'Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer');
  }
  const amount = optionalInteger(p, 'amount', 'amount', 1);
  try {
    const outcome = refundCharge(ctx, chargeId, {
      amount,
      reason,
      metadata: metadata(p) ?? {},
      apiVersion: req.apiVersion,
    });
    return ok(expandObject(ctx, outcome.refund, p));
  } catch (err) {
    if (err instanceof FlowError) {
      throw new StripeHttpError(400, {
        type: 'invalid_request_error',
        code: err.message.includes('already been refunded') ? 'charge_already_refunded' : 'amount_too_large',
        message: err.message,
        param: 'amount',
      });
    }
    throw err;
  }
};

/** An event as it was created (its own snapshot): `expand[]` is not looked at. */
export const retrieveEvent: ApiHandler = (ctx, _req, { id }) => {
  const record = ctx.webhooks.get(id);
  if (!record) throw noSuch('event', id);
  return ok(record.event);
};

export const listEvents: ApiHandler = (ctx, req) => {
  const { type, expand: _e, created: _c, delivery_success: _d, types: _t, ...rest } = req.params;
  let all = newestFirst(ctx.webhooks.list()).map((r) => r.event);
  if (typeof type === 'string') {
    const prefix = type.endsWith('*') ? type.slice(0, -1) : null;
    all = all.filter((e) => (prefix !== null ? e.type.startsWith(prefix) : e.type === type));
  }
  return ok(paginate(all, rest, '/v1/events'));
};
