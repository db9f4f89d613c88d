import type { AddressInfo } from 'node:net';
import { EmulatorState } from './emulator-state';
import { createServer } from './http/server';
import { assertBindable } from './loopback';

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
function formatHost(host: string): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return h.includes(':') ? `[${h}]` : h;
}

export async function startStripeEmulator(opts: StripeEmulatorOptions = {}): Promise<StripeEmulator> {
  const host = opts.host ?? '127.0.0.1';
  assertBindable(host, opts.allowRemote === true);
  const limits = opts.limits ?? {};
  const webhookSecret = opts.webhookSecret ?? DEFAULT_WEBHOOK_SECRET;
  const state = new EmulatorState({
    webhookUrl: opts.webhookUrl || undefined,
    webhookSecret,
    webhookRetryDelaysMs: opts.webhookRetryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
    webhookTimeoutMs: opts.webhookTimeoutMs ?? 10_000,
    maxObjects: limits.maxObjects ?? 20_000,
    maxIdempotencyKeys: limits.maxIdempotencyKeys ?? 50_000,
    maxRequests: limits.maxRequests ?? 2_000,
    maxEvents: limits.maxEvents ?? 10_000,
  });
  const server = createServer(state);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${formatHost(host)}:${port}`;
  state.ctx.publicUrl = (opts.publicUrl ?? url).replace(/\/+$/, '');

  return {
    url,
    port,
    host,
    webhookSecret,
    publicUrl: state.ctx.publicUrl,
    get webhookUrl() {
      return state.webhooks.url;
    },
    setWebhookUrl(value: string | undefined) {
      state.webhooks.url = value;
    },
    reset: () => state.reset(),
    close: () => {
      if (state.closed) return Promise.resolve();
      state.close();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
