import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '@credits/config';
import { GatewayTimeoutError, sendError, ServiceUnavailableError } from '@credits/errors';
import { RequestDeadline, runInRequestScope } from '@credits/traffic';
import { registerBodyLimits } from './body-limit';
import { registerJsonBodyParser } from './json-body';
import { callerLogFields, type RequestContext } from './request-context';
import { securityHeaders } from './security';
import { logsAt } from '../logging/logger';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts the caller's `X-Request-Id` when it is safe to echo and log; otherwise makes one. */
export function requestIdFor(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * Fastify-level wiring that must exist before Nest registers its routes: per-route body
 * limits, the JSON-only body parser, the request context every log line reads, the security
 * headers, the `X-Request-Id` echo, the request deadline and one access log line per request
 * (at `LOG_LEVEL` info or finer). Errors raised here reach the global filter through Nest's own
 * Fastify error handler.
 */
export function registerHttpHooks(fastify: FastifyInstance, config: AppConfig): void {
  const accessLog = new Logger('Access');
  const deadlineLog = new Logger('Deadline');
  const security = securityHeaders(config);

  registerBodyLimits(fastify, config);
  registerJsonBodyParser(fastify);

  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.headers(security).header('x-request-id', request.id);
    const deadline = new RequestDeadline(config.http.requestTimeoutMs);
    watchDeadline(request, reply, deadline, deadlineLog);
    // Everything that serves the request runs in its one scope. (Fastify resumes a request in
    // the context it was parsed in: its body parser binds its callback to it.)
    const context: RequestContext = { request_id: request.id, request, deadline };
    runInRequestScope(context, done);
  });

  // The access line is logged at info: below that level nothing is built or run for it.
  if (logsAt(config, 'info')) {
    fastify.addHook('onResponse', (request, reply, done) => {
      accessLog.log({
        msg: 'request completed',
        request_id: request.id,
        org: request.org?.slug,
        ...callerLogFields(request.principal),
        method: request.method,
        ip: request.ip,
        route: request.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
        duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      });
      done();
    });
  }
}

/**
 * `REQUEST_TIMEOUT_MS`: whatever the request is stuck on (a database that does not answer, a
 * pool with no free connection, Stripe), the caller gets an answer by its deadline: 504 when
 * it was waiting on Stripe, 503 otherwise. The work still running reads the same deadline:
 * Stripe calls are bounded by it (`StripeGateway`) and a debit it overtook is not applied
 * (`DebitGroupCommit`), so nothing is recorded after the caller was told it failed.
 */
/**
 * A request cut off while its transaction commits may have been applied: a retry with the same
 * Idempotency-Key is answered with what was done (a debit a deadline overtook before it was
 * decided is never applied: `DebitGroupCommit`).
 */
const DEADLINE_DETAIL =
  'The request did not complete within its deadline; retry shortly with the same Idempotency-Key, ' +
  'which is answered with the outcome if it was applied';

function watchDeadline(request: FastifyRequest, reply: FastifyReply, deadline: RequestDeadline, logger: Logger): void {
  const timer = setTimeout(() => {
    deadline.expire();
    if (reply.sent) return;
    const waitingOnStripe = deadline.waitingOnStripe;
    logger.warn({
      msg: 'request deadline exceeded',
      request_id: request.id,
      timeout_ms: Math.round(reply.elapsedTime),
      waiting_on: waitingOnStripe ? 'stripe' : 'server',
    });
    sendError(
      reply,
      waitingOnStripe
        ? new GatewayTimeoutError()
        : new ServiceUnavailableError(DEADLINE_DETAIL, { 'Retry-After': '1' }),
      logger,
    );
  }, deadline.remainingMs());
  // The response is finished or its connection gone: nothing left to answer.
  reply.raw.once('close', () => clearTimeout(timer));
}
