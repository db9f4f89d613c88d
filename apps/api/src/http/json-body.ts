import type { FastifyInstance, FastifyRequest } from 'fastify';
import secureJsonParse from 'secure-json-parse';
import { FieldError, InvalidRequestError, UnsupportedMediaTypeError, ValidationError } from '@credits/errors';
import { timesSent } from './http-edges';

/**
 * The deepest nesting of arrays and objects a body may have: far more than any request or
 * Stripe event holds, far less than what overflows the stack of the code that walks a body
 * (the validation pipe, class-validator).
 */
export const MAX_JSON_DEPTH = 32;

/**
 * `application/json`, with no parameter but `charset=utf-8` (or `utf8`): JSON exchanged
 * between systems is UTF-8 (RFC 8259 §8.1), so another charset, or parameters that do not
 * parse, say the body is something else.
 */
const JSON_MEDIA_TYPE = /^application\/json(?:[\t ]*;[\t ]*(?:charset=(?:utf-?8|"utf-?8"))?)*[\t ]*$/i;

/** `identity` (or an empty list) is the only content coding read: the body as sent. */
const IDENTITY_ENCODING = /^[\t ]*(?:identity)?[\t ]*$/i;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON is the only body this API accepts, and this parser the one place a body is read:
 * any other content type is a 415 (Fastify's, for types with no parser), so is a
 * `Content-Encoding` it does not decode. The raw bytes are kept for webhook signature
 * checks. A body that is not UTF-8, nests deeper than {@link MAX_JSON_DEPTH} or does not
 * parse is a 400.
 */
export function registerJsonBodyParser(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    (request as FastifyRequest & { rawBody?: Buffer }).rawBody = raw;
    try {
      done(null, parseJsonBody(request, raw));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}

function parseJsonBody(request: FastifyRequest, raw: Buffer): unknown {
  const contentType = request.headers['content-type'] ?? '';
  if (timesSent(request.raw, 'content-type') !== 1 || !JSON_MEDIA_TYPE.test(contentType)) {
    throw new UnsupportedMediaTypeError(
      'Request body must be JSON: send one Content-Type: application/json (charset utf-8, if any)',
    );
  }
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && !IDENTITY_ENCODING.test(encoding)) {
    throw new UnsupportedMediaTypeError('Content-Encoding is not supported: send the body uncompressed');
  }
  if (raw.length === 0) throw new ValidationError([{ loc: ['body'], msg: 'Field required', type: 'missing' }]);

  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    throw invalidBody('Request body is not valid UTF-8', { loc: ['body'], msg: 'Invalid UTF-8', type: 'json_invalid' });
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw invalidBody(`Request body nests deeper than ${MAX_JSON_DEPTH} levels`, {
      loc: ['body'],
      msg: `JSON should nest at most ${MAX_JSON_DEPTH} arrays or objects deep`,
      type: 'json_too_deep',
    });
  }
  let parsed: unknown;
  try {
    parsed = secureJsonParse(text, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    throw invalidBody('Request body is not valid JSON', { loc: ['body'], msg: 'Invalid JSON', type: 'json_invalid' });
  }
  // PostgreSQL cannot store U+0000 in text, nor a lone UTF-16 surrogate in jsonb (text turns it
  // into U+FFFD in silence), so no field may hold either: refused here, once, rather than
  // failing in whichever statement stores it. JSON can only write them as escapes, so the walk
  // runs only when such an escape appears.
  const unstorableAt = UNSTORABLE_ESCAPE.test(text) ? pathToUnstorable(parsed, ['body']) : undefined;
  if (unstorableAt) {
    throw new ValidationError([
      {
        loc: unstorableAt,
        msg: 'String should be Unicode text without U+0000 or a lone surrogate',
        type: 'string_unstorable',
      },
    ]);
  }
  return parsed;
}

/** `\u0000`, or a `\uD800`–`\uDFFF` escape (half of a surrogate pair, or a lone one). */
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f])/i;

/** U+0000, or a surrogate that is not half of a pair. */
const UNSTORABLE_CHAR = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Where the first string (value or key) holding an unstorable character sits, or undefined. */
function pathToUnstorable(value: unknown, path: (string | number)[]): (string | number)[] | undefined {
  if (typeof value === 'string') return UNSTORABLE_CHAR.test(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = pathToUnstorable(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      if (UNSTORABLE_CHAR.test(key)) return [...path, key];
      const found = pathToUnstorable(inner, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

function invalidBody(detail: string, error: FieldError): InvalidRequestError {
  return new InvalidRequestError(detail, [error]);
}

/**
 * Whether `[` and `{` open more than `max` levels, counted outside strings in one pass
 * before anything is parsed. On text that is not JSON the count may be off; the parse
 * that follows refuses it anyway.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}
