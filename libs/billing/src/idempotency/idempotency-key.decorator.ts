import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { applyDecorators } from '@nestjs/common';
import { ValidationError } from '@credits/errors';

const PRINTABLE = /^[\x21-\x7e]+$/;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** The optional `Idempotency-Key` header, checked: 1–255 printable ASCII characters. */
export const IdempotencyKey = createParamDecorator((_: unknown, context: ExecutionContext): string | undefined => {
  const value = context.switchToHttp().getRequest<FastifyRequest>().headers['idempotency-key'];
  if (value === undefined) return undefined;
  const loc = ['header', 'idempotency-key'];
  if (Array.isArray(value)) throw new ValidationError([{ loc, msg: 'Send the header once', type: 'value_error' }]);
  if (value.length === 0)
    throw new ValidationError([{ loc, msg: 'String should have at least 1 character', type: 'string_too_short' }]);
  if (value.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new ValidationError([
      { loc, msg: `String should have at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, type: 'string_too_long' },
    ]);
  }
  if (!PRINTABLE.test(value)) {
    throw new ValidationError([
      { loc, msg: 'String should contain printable ASCII characters only', type: 'string_pattern_mismatch' },
    ]);
  }
  return value;
});

export const ApiIdempotencyKeyHeader = () =>
  applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'Makes retries safe: the same key with the same body (per caller and org, for 24 h) replays the first ' +
        'successful answer without creating another session; the same key with another body, or while the first ' +
        'request is still running, answers 409. 1–255 printable characters, e.g. a UUID.',
      schema: {
        type: 'string',
        minLength: 1,
        maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
        example: '6f1c1f0e-3c9a-4b8e-9a55-0d7f3b0e2a41',
      },
    }),
  );
