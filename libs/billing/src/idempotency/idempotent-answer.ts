import type { FastifyInstance, preSerializationHookHandler } from 'fastify';
import { InternalError } from '@credits/errors';
import type { IdempotentResult } from './idempotency.service';

export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

/** Route config key that `@Idempotent()` sets (Fastify route config, as `AcceptsLargeBody` does). */
export const IDEMPOTENT_ROUTE = 'idempotent';

function isIdempotentResult(value: unknown): value is IdempotentResult<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    'body' in value &&
    typeof (value as { replayed?: unknown }).replayed === 'boolean'
  );
}

/**
 * Answers an `@Idempotent()` handler's `IdempotentResult`: its body, and the
 * `Idempotent-Replayed: true` header when the service replayed the stored first answer. Any
 * other return value is a programming error, answered 500 rather than sent as is.
 *
 * A Fastify hook rather than a Nest interceptor: Nest runs a route's interceptors through RxJS
 * and two `AsyncResource.bind`s per request (each building deprecation wrappers on Node 20),
 * about a tenth of a checkout 422's CPU in the bench. It is attached when a route is registered,
 * to the routes `@Idempotent()` marked only, so other routes run nothing for it. The app
 * registers it once (`createApp`), before Nest adds its routes.
 */
export function registerIdempotentAnswers(fastify: FastifyInstance): void {
  fastify.addHook('onRoute', (route) => {
    const config = route.config as unknown as Record<string, unknown> | undefined;
    if (!config?.[IDEMPOTENT_ROUTE]) return;
    const own = route.preSerialization;
    route.preSerialization = [...(own === undefined ? [] : Array.isArray(own) ? own : [own]), answer];
  });
}

const answer: preSerializationHookHandler = (_request, reply, payload, done) => {
  // An error is already its envelope.
  if (reply.statusCode >= 400) return done(null, payload);
  if (!isIdempotentResult(payload)) {
    return done(new InternalError(new Error('an @Idempotent() handler must return an IdempotentResult')));
  }
  if (payload.replayed) void reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
  done(null, payload.body);
};
