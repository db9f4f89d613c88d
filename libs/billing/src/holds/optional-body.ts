import {
  applyDecorators,
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  Type,
  UseInterceptors,
} from '@nestjs/common';
import { ApiBody } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';

/** Runs before the validation pipe (interceptors precede pipes): a request without a body is validated as `{}`. */
@Injectable()
class AbsentBodyAsEmptyObject implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (request.body === undefined || request.body === null) request.body = {};
    return next.handle();
  }
}

/**
 * A body whose every field is optional may be left out (`POST …/capture` with nothing): it is
 * then validated as `{}`, and the document says the body is optional. A body that is sent is
 * validated as usual.
 */
export function OptionalBody(type: Type<unknown>): MethodDecorator {
  return applyDecorators(UseInterceptors(AbsentBodyAsEmptyObject), ApiBody({ type, required: false }));
}
