import { applyDecorators, createParamDecorator, ExecutionContext } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiErrorResponses, FieldError, ValidationError } from '@credits/errors';
import { IDEMPOTENCY_TTL_MS } from './idempotency.service';
import { IDEMPOTENT_ROUTE } from './idempotent-answer';

const PRINTABLE = /^[\x21-\x7e]+$/;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const LOC = ['header', 'idempotency-key'];

export interface IdempotentOptions {
  /** Refuse a request without the header (422 `missing`), for work that must never run twice. */
  required?: boolean;
  /** The header's description in the OpenAPI document, when the route's rule differs from the default. */
  description?: string;
}

const DEFAULT_DESCRIPTION =
  `Makes retries safe: the same key with the same body (per caller and org, for ${IDEMPOTENCY_TTL_MS / 3_600_000} h) ` +
  'replays the first successful answer (with `Idempotent-Replayed: true`) without doing the work again; the same key ' +
  'with another body, or while the first request is still running, answers 409. 1–255 printable characters, e.g. a UUID.';

function fieldError(msg: string, type: string): ValidationError {
  const error: FieldError = { loc: LOC, msg, type };
  return new ValidationError([error]);
}

/** The `Idempotency-Key` header, checked: 1–255 printable ASCII characters. */
export function readIdempotencyKey(request: FastifyRequest, required: boolean): string | undefined {
  const value = request.headers['idempotency-key'];
  if (value === undefined) {
    if (required) throw fieldError('Field required', 'missing');
    return undefined;
  }
  if (Array.isArray(value)) throw fieldError('Send the header once', 'value_error');
  if (value.length === 0) throw fieldError('String should have at least 1 character', 'string_too_short');
  if (value.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw fieldError(`String should have at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, 'string_too_long');
  }
  if (!PRINTABLE.test(value)) {
    throw fieldError('String should contain printable ASCII characters only', 'string_pattern_mismatch');
  }
  return value;
}

const IdempotencyKeyParam = createParamDecorator((required: boolean, context: ExecutionContext) =>
  readIdempotencyKey(context.switchToHttp().getRequest<FastifyRequest>(), required),
);

/**
 * Makes a route idempotent under the `Idempotency-Key` header, in one decorator on the
 * handler's key parameter: the parameter receives the checked key (undefined when it is
 * optional and absent), the OpenAPI document gets the header and the 409/422 answers, and the
 * handler's `IdempotentResult` is answered as its body, with `Idempotent-Replayed: true` when
 * the service replayed a stored answer (by the hook `registerIdempotentAnswers` puts on the app).
 *
 * ```ts
 * create(@Body() body: Dto, @Idempotent() key: string | undefined): Promise<IdempotentResult<Res>>
 * ```
 */
export function Idempotent({ required = false, description = DEFAULT_DESCRIPTION }: IdempotentOptions = {}) {
  const method = applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required,
      description,
      schema: {
        type: 'string',
        minLength: 1,
        maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
        example: '6f1c1f0e-3c9a-4b8e-9a55-0d7f3b0e2a41',
      },
    }),
    ApiErrorResponses('conflict_error', 'validation_error'),
    // The result becomes the body (and the replay header) in `registerIdempotentAnswers`' hook.
    RouteConfig({ [IDEMPOTENT_ROUTE]: true }),
  );
  return (target: object, key: string | symbol | undefined, index: number): void => {
    if (key === undefined) throw new Error('@Idempotent() belongs on a route handler parameter');
    IdempotencyKeyParam(required)(target, key, index);
    // A parameter decorator sees no descriptor; the handler's own carries the route metadata.
    method(target, key, Object.getOwnPropertyDescriptor(target, key));
  };
}
