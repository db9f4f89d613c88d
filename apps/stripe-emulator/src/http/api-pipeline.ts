import type * as http from 'node:http';
import { DEFAULT_API_VERSION } from '../context';
import type { EmulatorState } from '../emulator-state';
import { FormError, type FormObject } from '../stripe-api/form-encoding';
import { StripeHttpError } from '../stripe-api/stripe-errors';
import type { ApiCall } from './api-call';
import { apiRoutes } from './api-routes';
import { holdLock } from './apply-faults';
import { authenticate } from './authenticate';
import { errorAnswer, requestId, type Answer, type Exchange } from './exchange';
import { withIdempotency } from './idempotent-replay';
import type { ResolvedRoute } from './router';

/**
 * A `/v1` request past the faults: authenticate, refuse a malformed form, resolve the route,
 * take the idempotency key, run the handler. Every refusal is Stripe's error JSON; null when the
 * emulator closed while a fault held the request.
 */
export async function answerApi(state: EmulatorState, exchange: Exchange): Promise<Answer | null> {
  const headers = apiHeaders(exchange.req);
  try {
    const apiKey = authenticate(exchange.req.headers.authorization);
    const params = wellFormed(exchange.params);
    const route = apiRoutes.resolve(exchange.method, exchange.path);
    const call: ApiCall = { exchange, apiKey, params, headers };
    return await withIdempotency(state.idempotency, call, async () =>
      (await holdLock(state, exchange)) ? runHandler(state, call, route) : null,
    );
  } catch (err) {
    return errorAnswer(asStripeError(err), headers);
  }
}

function apiHeaders(req: http.IncomingMessage): Record<string, string> {
  return {
    'content-type': 'application/json',
    'cache-control': 'no-cache, no-store',
    'request-id': requestId(),
    'stripe-version': (req.headers['stripe-version'] as string | undefined) || DEFAULT_API_VERSION,
  };
}

function wellFormed(params: FormObject | FormError): FormObject {
  if (params instanceof FormError) {
    throw new StripeHttpError(400, { type: 'invalid_request_error', message: params.message });
  }
  return params;
}

function runHandler(state: EmulatorState, call: ApiCall, route: ResolvedRoute): Answer {
  const { method, path } = call.exchange;
  const apiVersion = call.headers['stripe-version'];
  const result = route.handler(state.ctx, { method, path, params: call.params, apiVersion }, route.path);
  return { status: result.status, body: JSON.stringify(result.body), headers: call.headers };
}

function asStripeError(err: unknown): StripeHttpError {
  if (err instanceof StripeHttpError) return err;
  return new StripeHttpError(500, { type: 'api_error', message: `Internal emulator error: ${(err as Error).message}` });
}
