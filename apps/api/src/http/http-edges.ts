import { randomUUID } from 'node:crypto';
import { IncomingMessage, maxHeaderSize, Server, ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { Logger } from '@nestjs/common';
import { ApiException, InvalidRequestError, renderError, sendError, UriTooLongError } from '@credits/errors';

/**
 * The longest request target (path and query) served; longer is 414. Node counts the
 * request line with the headers against its own limit (`maxHeaderSize`, 16 KiB): a head
 * over that is 431 whatever makes it long.
 */
export const MAX_URL_LENGTH = 8192;

/** Requests whose head is refused, until the preParsing hook answers them. */
const refused = new WeakMap<IncomingMessage, ApiException>();

const errorLog = new Logger('Errors');

/**
 * Answers that come from below Nest become the envelope too: Node's HTTP parser (a
 * malformed request, a head over its limit, a client too slow to send one), Node's own
 * replies (a missing Host, an `Expect` it does not know, CONNECT) and Fastify's router (a
 * URL it cannot decode, a parameter over its length). Requests are checked where they
 * enter ({@link refusalOf}) so that the router never answers on its own: a refused request
 * is routed like any other and refused by the first preParsing hook, after every onRequest
 * hook (request id, security headers, CORS) has run, so its answer is an ordinary one.
 */
export const HTTP_EDGE_OPTIONS = {
  // The router's own limit would answer first, in its own words: no parameter can be
  // longer than the head Node accepts, so the URL limit is the one that answers.
  // (Under routerOptions: the top-level option is deprecated and warns on stderr, FSTDEP022.)
  routerOptions: { maxParamLength: maxHeaderSize },
  // Node answers a missing Host with an empty 400; refusalOf answers it instead.
  http: { requireHostHeader: false },
  rewriteUrl(this: unknown, req: IncomingMessage): string {
    const url = req.url ?? '/';
    const refusal = refusalOf(req, url);
    if (refusal === undefined) return url;
    refused.set(req, refusal);
    // A URL the router can decode, so that it routes the request instead of answering it.
    return url.replace(/%/g, '%25');
  },
  // Whatever the router still refuses by itself (nothing, with the checks above).
  frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
    void reply.header('x-request-id', request.id);
    sendError(reply, error, errorLog);
  },
  clientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    answerOnSocket(socket, parserRefusalOf(error.code));
    socket.destroy(error);
  },
} satisfies Partial<FastifyServerOptions> & { http: object };

/** The refusals decided before routing answer from the first hook that may answer. */
export function registerHttpEdges(fastify: FastifyInstance): void {
  fastify.addHook('preParsing', (request, _reply, payload, done) => {
    done(refused.get(request.raw) ?? null, payload);
  });

  const server: Server = fastify.server;
  // RFC 9110 §10.1.1: an expectation other than 100-continue may be ignored; Node would
  // answer it 417 with no body.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
  // Node drops a CONNECT without a word when nobody listens for it.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    answerOnSocket(socket, new InvalidRequestError('CONNECT is not supported: this server is not a proxy'));
    socket.end();
  });
}

function refusalOf(req: IncomingMessage, url: string): ApiException | undefined {
  if (url.length > MAX_URL_LENGTH) {
    return new UriTooLongError(`The request URI (path and query) is longer than ${MAX_URL_LENGTH} characters`);
  }
  if (url.includes('%') && !decodes(url)) {
    return new InvalidRequestError('The request URI has malformed percent-encoding');
  }
  // PostgreSQL text cannot hold U+0000: a parameter carrying one failed in the database (500).
  if (url.includes('%00')) {
    return new InvalidRequestError('The request URI may not contain a NUL character (%00)');
  }
  // RFC 9112 §3.2: exactly one Host in an HTTP/1.1 request (Node keeps the first of several).
  const hosts = timesSent(req, 'host');
  if (hosts > 1 || (hosts === 0 && req.httpVersion === '1.1')) {
    return new InvalidRequestError('An HTTP/1.1 request must carry exactly one Host header');
  }
  return undefined;
}

/**
 * How many times a header was sent (`name` in lower case). Node keeps only the first of a
 * repeated Host or Content-Type, so `headers` cannot tell.
 */
export function timesSent(req: IncomingMessage, name: string): number {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i].length === name.length && req.rawHeaders[i].toLowerCase() === name) count++;
  }
  return count;
}

function decodes(url: string): boolean {
  try {
    decodeURIComponent(url);
    return true;
  } catch {
    return false;
  }
}

/** Node's parser refused the request: its error code says why. */
function parserRefusalOf(code: string | undefined): ApiException {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ApiException(
        'headers_too_large_error',
        `The request line and headers are larger than ${maxHeaderSize} bytes`,
      );
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new ApiException('payload_too_large_error', 'Chunk extensions are too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiException('request_timeout_error');
    default:
      return new InvalidRequestError('The request is not valid HTTP/1.1');
  }
}

/**
 * Writes the envelope straight to a socket no response object owns (Node has given up on
 * the request), unless a response is already under way on it.
 */
function answerOnSocket(socket: Duplex, exception: ApiException): void {
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) return;
  const { status, body, headers } = renderError(exception);
  const json = JSON.stringify(body);
  const requestId = randomUUID();
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(json)}`,
    `x-request-id: ${requestId}`,
    'x-content-type-options: nosniff',
    'connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(`${head.join('\r\n')}\r\n\r\n${json}`);
  errorLog.debug?.({ msg: 'request rejected', request_id: requestId, status, type: body.type, detail: body.detail });
}
