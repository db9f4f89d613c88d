import { ArgumentsHost, Catch, ExceptionFilter, Logger, Optional } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { renderError } from './envelope';

/**
 * The one place an error becomes a response: every status 400–504, from any route,
 * guard, pipe or bug. Server faults are logged with their cause; the caller gets only
 * the envelope (the request id is in the `X-Request-Id` header to quote to support).
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  /**
   * `logRejections`: whether the log level shows a refused request's line (debug). When it
   * does not, nothing is built for the line: a 4xx is the most frequent answer there is.
   * (Optional for Nest's injector: `useClass` gets the default, every line logged.)
   */
  constructor(@Optional() private readonly options: { logRejections: boolean } = { logRejections: true }) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendError(http.getResponse<FastifyReply>(), exception, this.logger, this.options.logRejections);
  }
}

export function sendError(reply: FastifyReply, exception: unknown, logger: Logger, logRejections = true): void {
  const rendered = renderError(exception);
  if (rendered.serverFault) {
    logger.error({ msg: 'request failed', err: exception, status: rendered.status, type: rendered.body.type });
  } else if (logRejections) {
    logger.debug({
      msg: 'request rejected',
      status: rendered.status,
      type: rendered.body.type,
      detail: rendered.body.detail,
    });
  }
  if (reply.sent) return;
  void reply
    .status(rendered.status)
    .headers(rendered.headers)
    .header('content-type', 'application/json; charset=utf-8')
    .send(rendered.body);
}
