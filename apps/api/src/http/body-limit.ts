import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppConfig } from '@credits/config';
import { ApiException, LARGE_BODY } from '@credits/errors';

/**
 * How much of an oversized body is read (and thrown away) before the 413 is sent. A client
 * such as Node's `fetch` sends its whole body before it reads the answer: a server that
 * answers and closes while it is still sending gives it a reset (EPIPE), never the 413. So,
 * as RFC 9112 §9.6 asks, the rest of the body is drained first, up to this bound; past it the
 * 413 goes at once, with `Connection: close`, and nothing more is read.
 */
export const BODY_DRAIN_BYTES = 16 * 1024 * 1024;

/** The body limit of the request's route: the webhook's, or every other route's (unknown routes too). */
function limitOf(request: FastifyRequest, config: AppConfig): number {
  const routeConfig = request.routeOptions.config as unknown as Record<string, unknown> | undefined;
  return routeConfig?.[LARGE_BODY] ? config.http.webhookBodyLimit : config.http.bodyLimit;
}

/**
 * Enforces the body limits (`BODY_LIMIT_BYTES`, `WEBHOOK_BODY_LIMIT_BYTES`) so that a 413 can
 * be read by the client that caused it. Fastify itself only refuses what is over
 * `BODY_DRAIN_BYTES` (its `bodyLimit` everywhere, see `fastifyBodyLimit`); below that, a body
 * that may be over the route's limit (chunked, or declared over it) passes through a counter
 * that hands the parser at most the limit and, once over it, reads the rest without keeping
 * it and answers 413 when the body ends.
 */
export function registerBodyLimits(fastify: FastifyInstance, config: AppConfig): void {
  fastify.addHook('onRoute', (route) => {
    route.bodyLimit = BODY_DRAIN_BYTES;
  });
  fastify.addHook('preParsing', (request, _reply, payload, done) => {
    const limit = limitOf(request, config);
    const declared = Number(request.headers['content-length']);
    if (declared > BODY_DRAIN_BYTES) {
      done(tooLarge(limit, { close: true }), payload);
      return;
    }
    // The counter is a stream and a pipe, paid by every request that goes through it: only a
    // body that may be over the limit does.
    if (!mayExceed(request, limit)) {
      done(null, payload);
      return;
    }
    done(null, payload.pipe(new BodyLimit(limit)));
  });
  // An answer sent before the body was read (a 415, a refusal before routing): the rest is
  // read and thrown away, as Node would, but only up to the drain bound.
  fastify.addHook('onResponse', (request, _reply, done) => {
    if (!request.raw.complete) drainBounded(request.raw);
    done();
  });
}

/**
 * Whether the body Fastify will read may be over `limit`. Not when it reads none (GET, HEAD,
 * no body), nor when the body's declared length is within the limit: Node's parser passes no
 * more than the declared length, and Fastify answers 400 for a body shorter than declared. A
 * chunked body (no declared length) or one declared over the limit is counted.
 */
function mayExceed(request: FastifyRequest, limit: number): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return false;
  const { 'content-length': length, 'transfer-encoding': encoding } = request.headers;
  if (encoding !== undefined) return true;
  return length !== undefined && !(Number(length) <= limit);
}

function drainBounded(raw: FastifyRequest['raw']): void {
  let drained = 0;
  raw.unpipe();
  raw.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > BODY_DRAIN_BYTES) raw.socket.destroy();
  });
  raw.resume();
}

/** Fastify's own limit, for the not-found handler (no `onRoute` reaches it): only past the drain bound. */
export const fastifyBodyLimit = BODY_DRAIN_BYTES;

function tooLarge(limit: number, { close }: { close: boolean }): ApiException {
  return new ApiException('payload_too_large_error', `Request body is larger than ${limit} bytes`, {
    // Past the drain bound the rest is not read: the connection cannot be used again.
    headers: close ? { connection: 'close' } : {},
  });
}

/** Passes at most `limit` bytes; past it, reads on without passing, and fails at the end (or past the drain bound). */
class BodyLimit extends Transform {
  private received = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (this.received <= this.limit) return callback(null, chunk);
    if (this.received > BODY_DRAIN_BYTES) return callback(tooLarge(this.limit, { close: true }));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    callback(this.received > this.limit ? tooLarge(this.limit, { close: false }) : null);
  }
}
