import { createHash } from 'node:crypto';
import { canonical } from '../stripe-api/form-encoding';
import { StripeHttpError } from '../stripe-api/stripe-errors';
import type { ApiCall } from './api-call';
import type { Answer } from './exchange';
import type { IdempotencyStore } from './idempotency-keys';

/**
 * Stripe's idempotency around `run`, for a POST with an `Idempotency-Key`: a replay, other
 * parameters (400) or a key still in use (409) answer without running; otherwise a 2xx answer
 * or a card decline is kept for the key and anything else (an error, no answer) frees it for a retry.
 */
export async function withIdempotency(
  store: IdempotencyStore,
  call: ApiCall,
  run: () => Promise<Answer | null>,
): Promise<Answer | null> {
  const header = call.exchange.req.headers['idempotency-key'];
  const key = call.exchange.method === 'POST' && typeof header === 'string' && header !== '' ? header : null;
  if (!key) return run();
  call.headers['idempotency-key'] = key;
  if (key.length > 255) {
    throw new StripeHttpError(400, {
      type: 'invalid_request_error',
      message: 'Idempotency-Key must be at most 255 characters long.',
    });
  }
  const lookup = store.begin(call.apiKey, key, fingerprint(call));
  if (lookup.kind === 'replay')
    return { ...lookup.response, headers: { ...call.headers, 'idempotent-replayed': 'true' } };
  if (lookup.kind === 'mismatch') {
    throw new StripeHttpError(400, {
      type: 'idempotency_error',
      message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
    });
  }
  if (lookup.kind === 'in_progress') {
    throw new StripeHttpError(
      409,
      {
        type: 'idempotency_error',
        code: 'idempotency_key_in_use',
        message:
          'There is currently another in-progress request using this Stripe API key and idempotency key. Please try again later.',
      },
      { 'stripe-should-retry': 'true' },
    );
  }
  let answer: Answer | null;
  try {
    answer = await run();
  } catch (err) {
    store.release(call.apiKey, key);
    throw err;
  }
  // A handler's answer, 2xx or a card decline (402), is the result of a request that ran:
  // Stripe keeps it for the key. A thrown error (validation) or no answer frees the key.
  if (answer && ((answer.status >= 200 && answer.status < 300) || answer.status === 402)) {
    store.complete(call.apiKey, key, { status: answer.status, body: answer.body });
  } else {
    store.release(call.apiKey, key);
  }
  return answer;
}

/** Same endpoint and parameters, whatever their order. */
function fingerprint(call: ApiCall): string {
  return createHash('sha1')
    .update(`${call.exchange.method} ${call.exchange.path}\n${canonical(call.params)}`)
    .digest('base64');
}
