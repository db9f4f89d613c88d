import { startStripeEmulator, StripeEmulator, StripeEmulatorOptions } from '../../apps/stripe-emulator/src';
import { request, StartOptions, startTestApp, TestApp } from './test-app';

export const WEBHOOK_SECRET = 'whsec_test_stack';

export interface Stack extends TestApp {
  emulator: StripeEmulator;
  /** Calls the emulator's `/_emulator/*` test controls. */
  control<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** Requests the emulator received on a Stripe API path. */
  stripeRequests(path: string, method?: string): Promise<any[]>;
}

/** The app wired to an in-process Stripe emulator over real HTTP, webhooks delivered back to the app. */
export async function startStack(options: StartOptions & { emulator?: StripeEmulatorOptions } = {}): Promise<Stack> {
  const emulator = await startStripeEmulator({
    port: 0,
    webhookSecret: WEBHOOK_SECRET,
    webhookRetryDelaysMs: [50, 100, 200],
    ...options.emulator,
  });
  const app = await startTestApp({
    ...options,
    env: {
      STRIPE_SECRET_KEY: 'sk_test_stack',
      STRIPE_API_BASE: emulator.url,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_TIMEOUT_MS: '1000',
      ...options.env,
    },
  });
  if (options.emulator?.webhookUrl === undefined) emulator.setWebhookUrl(`${app.url}/api/v1/stripe/webhook`);

  const control = async (method: string, path: string, body?: unknown) => {
    const res = await request(emulator.url, method, `/_emulator${path}`, body === undefined ? {} : { body });
    if (res.status >= 300) throw new Error(`emulator ${method} ${path}: ${res.status} ${res.text}`);
    return res.body;
  };
  return {
    ...app,
    emulator,
    control,
    async stripeRequests(path, method = 'POST') {
      const log = await control('GET', `/requests?path=${encodeURIComponent(path)}`);
      const entries: any[] = Array.isArray(log) ? log : (log.data ?? log.requests);
      return entries.filter((r) => r.path === path && r.method === method);
    },
    async close() {
      await app.close();
      await emulator.close();
    },
  };
}
