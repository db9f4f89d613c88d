/** The test controls under `/_emulator/` (JSON in, JSON out; see README): what tests and the bench drive. */
import { refundCharge } from '../charges/refunds';
import {
  asyncResult,
  expireSession,
  paySession,
  sessionOrThrow,
  type PaymentOutcome,
} from '../checkout-sessions/session-lifecycle';
import type { Context } from '../context';
import type { IdempotencyStore } from '../http/idempotency-keys';
import type { RequestLog } from '../http/request-log';
import { settleIntent } from '../payment-intents/intent-confirmation';
import type { PaymentIntent } from '../payment-intents/payment-intent';
import { StripeHttpError } from '../stripe-api/stripe-errors';
import { signPayload, type EventRecord } from '../webhooks/webhook-dispatcher';
import { FaultInputError, type Faults } from './fault-rules';

interface ControlResult {
  status: number;
  body: unknown;
}

export interface ControlDeps {
  ctx: Context;
  faults: Faults;
  idempotency: IdempotencyStore;
  requests: RequestLog;
}

/** A control refused its request (bad input, unknown id): answered `{error: {message}}` with `status`. */
class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function summary(record: EventRecord): Record<string, unknown> {
  return {
    id: record.event.id,
    type: record.event.type,
    created: record.event.created,
    delivered: record.delivered,
    state: record.state,
    next_attempt_at: record.next_attempt_at,
    attempts: record.attempts,
    event: record.event,
  };
}

function outcome(result: PaymentOutcome): Record<string, unknown> {
  return {
    session: result.session,
    payment_intent: result.payment_intent,
    charge: result.charge,
    events: result.events.map(summary),
  };
}

function optionalText(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ControlError(400, `${key} must be a string`);
  return value;
}

function bool(body: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = body[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new ControlError(400, `${key} must be a boolean`);
  return value;
}

function parseJsonBody(raw: string): Record<string, unknown> {
  if (!raw.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ControlError(400, 'The body must be JSON.');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new ControlError(400, 'The body must be a JSON object.');
  return value as Record<string, unknown>;
}

function eventOrThrow(ctx: Context, id: string): EventRecord {
  const record = ctx.webhooks.get(id);
  if (!record) throw new ControlError(404, `No such event: '${id}'`);
  return record;
}

function intentOrThrow(ctx: Context, id: string): PaymentIntent {
  const intent = ctx.store.paymentIntents.get(id);
  if (!intent) throw new ControlError(404, `No such payment_intent: '${id}'`);
  return intent;
}

type ControlHandler = (
  deps: ControlDeps,
  method: string,
  path: string,
  query: URLSearchParams,
  rawBody: string,
) => Promise<ControlResult>;

const route: ControlHandler = async (deps, method, path, query, rawBody) => {
  const { ctx } = deps;
  const sub = path.slice('/_emulator'.length) || '/';
  const body = method === 'POST' ? parseJsonBody(rawBody) : {};
  let m: RegExpExecArray | null;

  if (sub === '/health' && method === 'GET') return { status: 200, body: { ok: true } };
  if (sub === '/config' && method === 'POST') {
    if ('webhook_url' in body) {
      const url = body.webhook_url;
      if (url !== null && (typeof url !== 'string' || !/^https?:\/\//.test(url))) {
        throw new ControlError(400, 'webhook_url must be an http(s) URL or null');
      }
      ctx.webhooks.url = url ?? undefined;
    }
    return { status: 200, body: { webhook_url: ctx.webhooks.url ?? null, public_url: ctx.publicUrl } };
  }

  if (sub === '/faults') {
    if (method === 'GET') return { status: 200, body: deps.faults.list() };
    if (method === 'DELETE') {
      deps.faults.clear();
      return { status: 200, body: { ok: true } };
    }
    if (method === 'POST') {
      try {
        return { status: 201, body: deps.faults.add(body) };
      } catch (err) {
        if (err instanceof FaultInputError) throw new ControlError(400, err.message);
        throw err;
      }
    }
  }
  if ((m = /^\/faults\/(\d+)$/.exec(sub)) && method === 'DELETE') {
    return deps.faults.remove(Number(m[1]))
      ? { status: 200, body: { ok: true } }
      : { status: 404, body: { error: { message: 'No such fault' } } };
  }

  if (sub === '/gc' && method === 'POST') {
    // A benchmark runs it between timed rounds: a full collection of everything the emulator
    // keeps (it grows with every object made) is then less likely to start inside a round.
    const collect = (globalThis as { gc?: () => void }).gc;
    if (!collect) throw new ControlError(409, 'start the emulator with node --expose-gc to collect on demand');
    collect();
    return { status: 200, body: { ok: true, heap_used_bytes: process.memoryUsage().heapUsed } };
  }

  if (sub === '/idempotency_keys' && method === 'DELETE') {
    // What Stripe does to keys once they are 24 h old: a request with a forgotten key runs anew.
    deps.idempotency.clear();
    return { status: 200, body: { ok: true } };
  }

  if (sub === '/requests') {
    if (method === 'GET') return { status: 200, body: deps.requests.list(query.get('path') ?? undefined) };
    if (method === 'DELETE') {
      deps.requests.clear();
      return { status: 200, body: { ok: true } };
    }
  }

  if (sub === '/events' && method === 'GET') return { status: 200, body: ctx.webhooks.list().map(summary) };
  if (sub === '/events/deliver' && method === 'POST') {
    const ids = body.ids;
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string'))
      throw new ControlError(400, 'ids must be a list of event ids');
    const records = (ids as string[]).map((id) => eventOrThrow(ctx, id));
    const results = [];
    for (const record of records) {
      const attempt = await ctx.webhooks.deliverOnce(record);
      results.push({ id: record.event.id, type: record.event.type, attempt });
    }
    return { status: 200, body: results };
  }
  if ((m = /^\/events\/([^/]+)$/.exec(sub)) && method === 'GET') {
    const record = eventOrThrow(ctx, m[1]);
    return {
      status: 200,
      body: {
        ...summary(record),
        payload: record.payload,
        signature: signPayload(record.payload, ctx.webhooks.secret),
      },
    };
  }

  if ((m = /^\/sessions\/([^/]+)$/.exec(sub)) && method === 'GET') {
    const session = sessionOrThrow(ctx, m[1]);
    const extras = ctx.store.sessionExtras.get(session.id);
    const intent = session.payment_intent ? (ctx.store.paymentIntents.get(session.payment_intent) ?? null) : null;
    const charge = intent?.latest_charge ? (ctx.store.charges.get(intent.latest_charge) ?? null) : null;
    return { status: 200, body: { session, line_items: extras?.lineItems ?? [], payment_intent: intent, charge } };
  }
  if ((m = /^\/sessions\/([^/]+)\/pay$/.exec(sub)) && method === 'POST') {
    const result = paySession(ctx, m[1], {
      async: bool(body, 'async', false),
      deliver: bool(body, 'deliver', true),
      paymentMethod: optionalText(body, 'payment_method'),
    });
    return { status: 200, body: outcome(result) };
  }
  if ((m = /^\/sessions\/([^/]+)\/async_(succeeded|failed)$/.exec(sub)) && method === 'POST') {
    const result = asyncResult(ctx, m[1], m[2] === 'succeeded', bool(body, 'deliver', true));
    return { status: 200, body: outcome(result) };
  }
  if ((m = /^\/sessions\/([^/]+)\/expire$/.exec(sub)) && method === 'POST') {
    const session = sessionOrThrow(ctx, m[1]);
    const event = expireSession(ctx, session, bool(body, 'deliver', true));
    return { status: 200, body: { session, events: [summary(event)] } };
  }
  if ((m = /^\/charges\/([^/]+)\/refund$/.exec(sub)) && method === 'POST') {
    const amount = body.amount;
    if (amount !== undefined && (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0)) {
      throw new ControlError(400, 'amount must be a positive integer');
    }
    const result = refundCharge(ctx, m[1], { amount: amount, deliver: bool(body, 'deliver', true) });
    return { status: 200, body: { refund: result.refund, charge: result.charge, events: [summary(result.event)] } };
  }
  if ((m = /^\/payment_intents\/([^/]+)$/.exec(sub)) && method === 'GET') {
    const intent = intentOrThrow(ctx, m[1]);
    const charge = intent.latest_charge ? (ctx.store.charges.get(intent.latest_charge) ?? null) : null;
    return { status: 200, body: { payment_intent: intent, charge } };
  }
  if ((m = /^\/payment_intents\/([^/]+)\/succeed$/.exec(sub)) && method === 'POST') {
    const intent = intentOrThrow(ctx, m[1]);
    if (intent.status !== 'processing' || ctx.store.sessionByPaymentIntent.has(intent.id)) {
      throw new ControlError(
        400,
        'Only a processing PaymentIntent made through the API can be settled here (a Checkout payment: /sessions/{id}/async_succeeded).',
      );
    }
    const result = settleIntent(ctx, intent, bool(body, 'deliver', true));
    return {
      status: 200,
      body: { payment_intent: result.intent, charge: result.charge, events: result.events.map(summary) },
    };
  }
  return { status: 404, body: { error: { message: `Unknown emulator control: ${method} ${path}` } } };
};

/** `route`, with a refused control answered as its status and message. */
export const handleControl: ControlHandler = async (...request) => {
  try {
    return await route(...request);
  } catch (err) {
    if (err instanceof ControlError) return { status: err.status, body: { error: { message: err.message } } };
    // What a payment, expiry or refund refused: its status and message; a card decline also its codes.
    if (err instanceof StripeHttpError) {
      const { message, code, decline_code } = err.body;
      const card = err.body.type === 'card_error' ? { code, decline_code } : {};
      return { status: err.status, body: { error: { message, ...card } } };
    }
    throw err;
  }
};
