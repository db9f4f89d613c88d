import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertBindable } from './bind';
import { DEFAULT_API_VERSION, type ApiResult, type Context, type Route } from './context';
import { handleControl } from './controls';
import { StripeHttpError, maskKey, unknownRoute } from './errors';
import { Faults, type FaultRule } from './faults';
import { FormError, canonical, parseForm, type FormObject } from './form';
import { IdempotencyStore } from './idempotency';
import { randomBase62 } from './ids';
import { handlePayPage } from './pay-page';
import { RequestLog, loggableHeaders, type LoggedRequest } from './request-log';
import { checkoutRoutes } from './routes/checkout';
import { customerRoutes } from './routes/customers';
import { paymentRoutes } from './routes/payments';
import { priceRoutes } from './routes/prices';
import { Store } from './store';
import { WebhookDispatcher } from './webhooks';

export interface StripeEmulatorOptions {
  /** 0 = a random free port. Default 12111. */
  port?: number;
  /** Default 127.0.0.1. Anything but loopback is refused unless `allowRemote`. */
  host?: string;
  allowRemote?: boolean;
  /** Where events are POSTed; none = events are recorded but not delivered. */
  webhookUrl?: string;
  /** Default `whsec_emulator`. */
  webhookSecret?: string;
  /** Base for hosted page URLs; default `http://host:port`. */
  publicUrl?: string;
  /** Waits before each retry of a failed delivery; default [1000, 2000, 4000, 8000, 16000]. */
  webhookRetryDelaysMs?: number[];
  /** Per-attempt timeout of a webhook delivery; default 10 000 ms. */
  webhookTimeoutMs?: number;
  /** Memory bounds for long runs. */
  limits?: {
    /** Per object type (customers, sessions, …); oldest forgotten first. Default 20 000. */
    maxObjects?: number;
    /** Stored idempotent responses. Default 50 000. */
    maxIdempotencyKeys?: number;
    /** Request log entries. Default 2 000. */
    maxRequests?: number;
    /** Events (with their delivery attempts). Default 10 000. */
    maxEvents?: number;
  };
}

export interface StripeEmulator {
  /** `http://host:port` */
  url: string;
  port: number;
  host: string;
  webhookSecret: string;
  /** Base of the hosted pay page URLs. */
  publicUrl: string;
  /** Current webhook target (may be changed at runtime). */
  readonly webhookUrl: string | undefined;
  setWebhookUrl(url: string | undefined): void;
  /** Clears objects, idempotency keys, faults, the request log and events. */
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 12111;
export const DEFAULT_WEBHOOK_SECRET = 'whsec_emulator';
export const DEFAULT_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 16000];
const MAX_BODY_BYTES = 1024 * 1024;
const API_KEY = /^(sk_test_|sk_live_|rk_test_|rk_live_|rk_)[A-Za-z0-9_]+$/;
const ROUTES: Route[] = [...customerRoutes, ...priceRoutes, ...checkoutRoutes, ...paymentRoutes];

class BodyTooLarge extends Error {}

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

function formatHost(host: string): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return h.includes(':') ? `[${h}]` : h;
}

function requestId(): string {
  return `req_${randomBase62(14)}`;
}

function extractApiKey(header: string | undefined): string | null {
  if (!header) return null;
  const space = header.indexOf(' ');
  if (space < 0) return null;
  const scheme = header.slice(0, space).toLowerCase();
  const credential = header.slice(space + 1).trim();
  if (scheme === 'bearer') return credential;
  if (scheme === 'basic') {
    const decoded = Buffer.from(credential, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(0, colon) : decoded;
  }
  return null;
}

export async function startStripeEmulator(opts: StripeEmulatorOptions = {}): Promise<StripeEmulator> {
  const host = opts.host ?? '127.0.0.1';
  assertBindable(host, opts.allowRemote === true);
  const limits = opts.limits ?? {};
  const store = new Store(limits.maxObjects ?? 20_000);
  const idempotency = new IdempotencyStore(limits.maxIdempotencyKeys ?? 50_000);
  const faults = new Faults();
  const requests = new RequestLog(limits.maxRequests ?? 2_000);
  const webhookSecret = opts.webhookSecret ?? DEFAULT_WEBHOOK_SECRET;
  const webhooks = new WebhookDispatcher({
    url: opts.webhookUrl || undefined,
    secret: webhookSecret,
    retryDelaysMs: opts.webhookRetryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
    timeoutMs: opts.webhookTimeoutMs ?? 10_000,
    maxEvents: limits.maxEvents ?? 10_000,
  });
  const ctx: Context = { store, webhooks, publicUrl: opts.publicUrl ?? '' };
  const sleeping = new Map<NodeJS.Timeout, () => void>();
  let closed = false;

  const reset = (): void => {
    store.clear();
    idempotency.clear();
    faults.clear();
    requests.clear();
    webhooks.clear();
  };

  const stats = (): Record<string, number> => ({
    customers: store.customers.size,
    prices: store.prices.size,
    products: store.products.size,
    sessions: store.sessions.size,
    payment_intents: store.paymentIntents.size,
    charges: store.charges.size,
    refunds: store.refunds.size,
    idempotency_keys: idempotency.size,
    events: webhooks.size,
    requests: requests.size,
    heap_used_mb: Math.round(process.memoryUsage().heapUsed / 1e6),
  });

  /** Resolves false when the emulator closed meanwhile. */
  const sleep = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        sleeping.delete(timer);
        resolve(!closed);
      }, ms);
      sleeping.set(timer, () => resolve(false));
    });

  const send = (
    res: http.ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string>,
    dropAfter: boolean,
    entry?: LoggedRequest,
  ): void => {
    if (dropAfter) {
      res.socket?.destroy();
      return;
    }
    if (res.destroyed || res.writableEnded) return;
    if (entry) entry.status = status;
    res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };

  const handleApi = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
    path: string,
    params: FormObject | FormError,
    fault: FaultRule | null,
    entry: LoggedRequest,
  ): Promise<void> => {
    const apiVersion = (req.headers['stripe-version'] as string | undefined) || DEFAULT_API_VERSION;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'cache-control': 'no-cache, no-store',
      'request-id': requestId(),
      'stripe-version': apiVersion,
    };
    const dropAfter = fault?.drop_after_processing === true;
    const fail = (err: StripeHttpError): void =>
      send(res, err.status, JSON.stringify(err.toJSON()), { ...headers, ...err.headers }, dropAfter, entry);

    const apiKey = extractApiKey(req.headers.authorization);
    if (!apiKey) {
      return fail(
        new StripeHttpError(401, {
          type: 'invalid_request_error',
          message:
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        }),
      );
    }
    if (!API_KEY.test(apiKey)) {
      return fail(
        new StripeHttpError(401, {
          type: 'invalid_request_error',
          message: `Invalid API Key provided: ${maskKey(apiKey)}`,
        }),
      );
    }
    if (params instanceof FormError) {
      return fail(new StripeHttpError(400, { type: 'invalid_request_error', message: params.message }));
    }
    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const r of ROUTES) {
      if (r.method !== method) continue;
      match = r.pattern.exec(path);
      if (match) {
        route = r;
        break;
      }
    }
    if (!route || !match) return fail(unknownRoute(method, path));

    const idemHeader = req.headers['idempotency-key'];
    const idemKey = method === 'POST' && typeof idemHeader === 'string' && idemHeader !== '' ? idemHeader : null;
    if (idemKey) {
      headers['idempotency-key'] = idemKey;
      if (idemKey.length > 255) {
        return fail(
          new StripeHttpError(400, {
            type: 'invalid_request_error',
            message: 'Idempotency-Key must be at most 255 characters long.',
          }),
        );
      }
      const fingerprint = createHash('sha1')
        .update(`${method} ${path}\n${canonical(params)}`)
        .digest('base64');
      const lookup = idempotency.begin(apiKey, idemKey, fingerprint);
      if (lookup.kind === 'replay') {
        return send(
          res,
          lookup.response.status,
          lookup.response.body,
          { ...headers, 'idempotent-replayed': 'true' },
          dropAfter,
          entry,
        );
      }
      if (lookup.kind === 'mismatch') {
        return fail(
          new StripeHttpError(400, {
            type: 'idempotency_error',
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.`,
          }),
        );
      }
      if (lookup.kind === 'in_progress') {
        return fail(
          new StripeHttpError(
            409,
            {
              type: 'idempotency_error',
              code: 'idempotency_key_in_use',
              message:
                'There is currently another in-progress request using this Stripe API key and idempotency key. Please try again later.',
            },
            { 'stripe-should-retry': 'true' },
          ),
        );
      }
    }

    if (fault?.hold_lock && fault.delay_ms > 0 && !(await sleep(fault.delay_ms))) {
      if (idemKey) idempotency.release(apiKey, idemKey);
      return;
    }
    let result: ApiResult;
    try {
      result = route.handler(ctx, { method, path, params, apiVersion }, match);
    } catch (err) {
      if (idemKey) idempotency.release(apiKey, idemKey);
      if (err instanceof StripeHttpError) return fail(err);
      return fail(
        new StripeHttpError(500, { type: 'api_error', message: `Internal emulator error: ${(err as Error).message}` }),
      );
    }
    const body = JSON.stringify(result.body);
    if (idemKey) {
      if (result.status >= 200 && result.status < 300)
        idempotency.complete(apiKey, idemKey, { status: result.status, body });
      else idempotency.release(apiKey, idemKey);
    }
    send(res, result.status, body, headers, dropAfter, entry);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    const query = q >= 0 ? rawUrl.slice(q + 1) : '';
    let rawBody = '';
    if (method !== 'GET' && method !== 'HEAD') {
      try {
        rawBody = await readBody(req);
      } catch (err) {
        const status = err instanceof BodyTooLarge ? 413 : 400;
        send(
          res,
          status,
          JSON.stringify({
            error: { type: 'invalid_request_error', message: 'Request body too large or unreadable.' },
          }),
          { 'content-type': 'application/json', connection: 'close' },
          false,
        );
        return;
      }
    }

    if (path === '/_emulator' || path.startsWith('/_emulator/')) {
      const result = await handleControl(
        { ctx, faults, requests, reset, stats },
        method,
        path,
        new URLSearchParams(query),
        rawBody,
      );
      send(
        res,
        result.status,
        JSON.stringify(result.body),
        { 'content-type': 'application/json', 'cache-control': 'no-store' },
        false,
      );
      return;
    }

    let params: FormObject | FormError;
    try {
      params = parseForm(method === 'GET' || method === 'HEAD' || method === 'DELETE' ? query : rawBody);
    } catch (err) {
      params = err instanceof FormError ? err : new FormError(String(err));
    }
    const entry: LoggedRequest = {
      method,
      path,
      query,
      headers: loggableHeaders(req.headers),
      body: params instanceof FormError ? rawBody : params,
      at: new Date().toISOString(),
      status: null,
    };
    requests.add(entry);

    const fault = faults.take(method, path);
    if (fault) {
      const holdsLock = fault.hold_lock && path.startsWith('/v1/');
      if (fault.delay_ms > 0 && !holdsLock && !(await sleep(fault.delay_ms))) return;
      if (fault.drop) {
        req.socket.destroy();
        return;
      }
      if (fault.status !== null) {
        const err = Faults.error(fault);
        send(
          res,
          err.status,
          JSON.stringify(err.toJSON()),
          { 'content-type': 'application/json', 'request-id': requestId() },
          fault.drop_after_processing,
          entry,
        );
        return;
      }
    }

    if (path.startsWith('/v1/')) {
      await handleApi(req, res, method, path, params, fault, entry);
      return;
    }
    const page = handlePayPage(ctx, method, path);
    if (page) {
      send(
        res,
        page.status,
        method === 'HEAD' ? '' : page.body,
        page.headers,
        fault?.drop_after_processing === true,
        entry,
      );
      return;
    }
    const err = unknownRoute(method, path);
    send(res, err.status, JSON.stringify(err.toJSON()), { 'content-type': 'application/json' }, false, entry);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        const body = JSON.stringify({
          error: { type: 'api_error', message: `Internal emulator error: ${(err as Error)?.message ?? err}` },
        });
        res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }
    });
  });
  // Longer than the SDK agent's idle sockets live, so a reused keep-alive socket is not closed under it.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${formatHost(host)}:${port}`;
  ctx.publicUrl = (opts.publicUrl ?? url).replace(/\/+$/, '');

  return {
    url,
    port,
    host,
    webhookSecret,
    publicUrl: ctx.publicUrl,
    get webhookUrl() {
      return webhooks.url;
    },
    setWebhookUrl(value: string | undefined) {
      webhooks.url = value;
    },
    reset,
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      webhooks.close();
      for (const [timer, wake] of sleeping) {
        clearTimeout(timer);
        wake();
      }
      sleeping.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
