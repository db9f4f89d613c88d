import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { map, Observable } from 'rxjs';
import { InternalError } from '@credits/errors';
import type { IdempotentResult } from './idempotency.service';

export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

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
 */
@Injectable()
export class IdempotentReplayInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    return next.handle().pipe(
      map((result: unknown) => {
        if (!isIdempotentResult(result)) {
          throw new InternalError(new Error('an @Idempotent() handler must return an IdempotentResult'));
        }
        if (result.replayed) void reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
        return result.body;
      }),
    );
  }
}
