import { ok, type Route } from '../context';
import { invalidParam, missingParam, noSuch, StripeHttpError } from '../errors';
import { FlowError, refundCharge } from '../flows';
import { metadata, newestFirst, optionalInteger, optionalString, paginate, rejectUnknown } from '../validate';
import { expandObject } from './expand';

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

export const paymentRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/payment_intents\/([^/]+)$/,
    handler(ctx, req, match) {
      const intent = ctx.store.paymentIntents.get(match[1]);
      if (!intent) throw noSuch('payment_intent', match[1]);
      return ok(expandObject(ctx, intent, req.params));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/charges\/([^/]+)$/,
    handler(ctx, req, match) {
      const charge = ctx.store.charges.get(match[1]);
      if (!charge) throw noSuch('charge', match[1]);
      return ok(expandObject(ctx, charge, req.params));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/refunds\/([^/]+)$/,
    handler(ctx, req, match) {
      const refund = ctx.store.refunds.get(match[1]);
      if (!refund) throw noSuch('refund', match[1]);
      return ok(expandObject(ctx, refund, req.params));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/refunds$/,
    handler(ctx, req) {
      const { charge, payment_intent: pi, expand: _e, ...rest } = req.params;
      let all = newestFirst(ctx.store.refunds.values());
      if (typeof charge === 'string') all = all.filter((r) => r.charge === charge);
      if (typeof pi === 'string') all = all.filter((r) => r.payment_intent === pi);
      return ok(paginate(all, rest, '/v1/refunds'));
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/refunds$/,
    handler(ctx, req) {
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
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/events\/([^/]+)$/,
    handler(ctx, _req, match) {
      const record = ctx.webhooks.get(match[1]);
      if (!record) throw noSuch('event', match[1]);
      return ok(record.event);
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/events$/,
    handler(ctx, req) {
      const { type, expand: _e, created: _c, delivery_success: _d, types: _t, ...rest } = req.params;
      let all = newestFirst(ctx.webhooks.list()).map((r) => r.event);
      if (typeof type === 'string') {
        const prefix = type.endsWith('*') ? type.slice(0, -1) : null;
        all = all.filter((e) => (prefix !== null ? e.type.startsWith(prefix) : e.type === type));
      }
      return ok(paginate(all, rest, '/v1/events'));
    },
  },
];
