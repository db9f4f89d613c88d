import type * as http from 'node:http';
import type { FaultRule } from '../controls/fault-rules';
import { FormError, parseForm, type FormObject } from '../stripe-api/form-encoding';
import { randomBase62 } from '../stripe-api/ids';
import type { StripeHttpError } from '../stripe-api/stripe-errors';
import { loggableHeaders, type LoggedRequest } from './request-log';

const MAX_BODY_BYTES = 1024 * 1024;

/** A response to write; `content-length` is added. */
export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** A request as read off the socket. */
export interface Incoming {
  method: string;
  path: string;
  query: string;
  rawBody: string;
}

class BodyTooLarge extends Error {}

export function requestId(): string {
  return `req_${randomBase62(14)}`;
}

export function errorAnswer(err: StripeHttpError, headers: Record<string, string>): Answer {
  return { status: err.status, body: JSON.stringify(err.toJSON()), headers: { ...headers, ...err.headers } };
}

export function writeAnswer(res: http.ServerResponse, answer: Answer): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(answer.status, { 'content-length': Buffer.byteLength(answer.body), ...answer.headers });
  res.end(answer.body);
}

/** Method, path, query and body (at most 1 MiB; none for GET and HEAD). Rejects when the body cannot be read. */
export async function readIncoming(req: http.IncomingMessage): Promise<Incoming> {
  const method = req.method ?? 'GET';
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  return {
    method,
    path: q >= 0 ? rawUrl.slice(0, q) : rawUrl,
    query: q >= 0 ? rawUrl.slice(q + 1) : '',
    rawBody: method === 'GET' || method === 'HEAD' ? '' : await readBody(req),
  };
}

/** What a body that `readIncoming` could not read is answered with. */
export function unreadableBody(err: unknown): Answer {
  return {
    status: err instanceof BodyTooLarge ? 413 : 400,
    body: JSON.stringify({
      error: { type: 'invalid_request_error', message: 'Request body too large or unreadable.' },
    }),
    headers: { 'content-type': 'application/json', connection: 'close' },
  };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * One logged request on its way through the stages, and its one answer. Its form parameters
 * are parsed up front so the log shows them; a malformed form is refused later, by the API stage.
 */
export class Exchange {
  readonly method: string;
  readonly path: string;
  readonly params: FormObject | FormError;
  readonly entry: LoggedRequest;
  /** The fault rule the request matched, set by the fault stage. */
  fault: FaultRule | null = null;

  constructor(
    readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    incoming: Incoming,
  ) {
    const { method, path, query, rawBody } = incoming;
    this.method = method;
    this.path = path;
    this.params = parseParams(method === 'GET' || method === 'HEAD' || method === 'DELETE' ? query : rawBody);
    this.entry = {
      method,
      path,
      query,
      headers: loggableHeaders(req.headers),
      body: this.params instanceof FormError ? rawBody : this.params,
      at: new Date().toISOString(),
      status: null,
    };
  }

  /**
   * Writes `answer` and logs its status; under a `drop_after_processing` fault destroys the
   * socket instead (a lost response). Null: nothing to answer.
   */
  reply(answer: Answer | null, dropAfter = this.fault?.drop_after_processing === true): void {
    if (!answer) return;
    if (dropAfter) {
      this.res.socket?.destroy();
      return;
    }
    if (this.res.destroyed || this.res.writableEnded) return;
    this.entry.status = answer.status;
    writeAnswer(this.res, answer);
  }

  /** Destroys the connection without an answer. */
  drop(): void {
    this.req.socket.destroy();
  }
}

function parseParams(form: string): FormObject | FormError {
  try {
    return parseForm(form);
  } catch (err) {
    return err instanceof FormError ? err : new FormError(String(err));
  }
}
