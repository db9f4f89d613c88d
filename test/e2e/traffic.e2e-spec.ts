import { eq } from 'drizzle-orm';
import Stripe from 'stripe';
import { checkoutSessions, idempotencyKeys } from '@credits/database';
import { startStack, Stack, WEBHOOK_SECRET } from '../support/stack';
import { HttpResult } from '../support/test-app';
import { bearer } from '../support/auth';

const CHECKOUT = '/api/v1/org/acme/credits/checkout';
const BALANCE = '/api/v1/org/acme/credits';
const TRANSACTIONS = '/api/v1/org/acme/credits/transactions';
const BODY = { success_url: 'http://localhost:3000/ok', cancel_url: 'http://localhost:3000/cancel' };
const stripe = new Stripe('sk_test_unused');

function expectEnvelope(res: HttpResult, status: number, type: string): void {
  expect(res.status).toBe(status);
  expect(Object.keys(res.body).sort()).toEqual(['code', 'detail', 'errors', 'type']);
  expect(res.body).toMatchObject({ code: status, type });
}

/** A correctly signed event of a type the service records and ignores. */
function signedEvent(id: string): { raw: string; headers: Record<string, string> } {
  const raw = JSON.stringify({
    id,
    object: 'event',
    type: 'customer.created',
    created: Math.floor(Date.now() / 1000),
    data: { object: {} },
  });
  return {
    raw,
    headers: {
      'content-type': 'application/json',
      'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: raw, secret: WEBHOOK_SECRET }),
    },
  };
}

describe('rate limits (per caller, per budget; the webhook has its own)', () => {
  let s: Stack;
  let adminKey: string;
  let otherAdminKey: string;
  let outsiderKey: string;

  beforeAll(async () => {
    s = await startStack({
      env: {
        RATE_LIMIT_CHECKOUT: '3',
        RATE_LIMIT_READ: '5',
        RATE_LIMIT_WEBHOOK: '12',
        RATE_LIMIT_WINDOW_MS: '60000',
        MIN_CLIENT_VERSION: '2.0.0',
      },
    });
    adminKey = await s.member('acme', 'admin@acme.test', 'admin');
    otherAdminKey = await s.member('acme', 'other@acme.test', 'admin');
    outsiderKey = await s.member('globex', 'owner@globex.test', 'owner');
  });
  afterAll(() => s?.close());

  it('allows the configured number of checkouts, then 429 with Retry-After and RateLimit-* headers', async () => {
    for (let i = 1; i <= 3; i++) {
      const res = await s.request('POST', CHECKOUT, { headers: bearer(adminKey), body: BODY });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-limit')).toBe('3');
      expect(res.headers.get('ratelimit-remaining')).toBe(String(3 - i));
      expect(Number(res.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    }
    const limited = await s.request('POST', CHECKOUT, { headers: bearer(adminKey), body: BODY });
    expectEnvelope(limited, 429, 'rate_limit_error');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.body.detail).toContain(`retry after ${retryAfter} s`);
    expect(limited.headers.get('ratelimit-limit')).toBe('3');
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(limited.headers.get('retry-after-checkout')).toBeNull();
    // Nothing reached Stripe for the refused request: still three sessions.
    expect(await s.db.select().from(checkoutSessions)).toHaveLength(3);
  });

  it('counts per caller: another key of the same org has its own budget', async () => {
    const res = await s.request('POST', CHECKOUT, { headers: bearer(otherAdminKey), body: BODY });
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-remaining')).toBe('2');
  });

  it('reads keep their own budget, shared by every read route', async () => {
    // The caller whose checkouts are exhausted still reads.
    const statuses: number[] = [];
    for (const path of [BALANCE, TRANSACTIONS, BALANCE, TRANSACTIONS, BALANCE]) {
      const res = await s.request('GET', path, { headers: bearer(adminKey) });
      statuses.push(res.status);
      expect(res.headers.get('ratelimit-limit')).toBe('5');
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const limited = await s.request('GET', TRANSACTIONS, { headers: bearer(adminKey) });
    expectEnvelope(limited, 429, 'rate_limit_error');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('checks in the documented order: authentication, client version, rate limit, then org access', async () => {
    // No credentials: 401, never a 429, and nothing counted.
    expectEnvelope(await s.request('POST', CHECKOUT, { body: BODY }), 401, 'authentication_error');
    // An old client is told to upgrade before it is told to slow down.
    expectEnvelope(
      await s.request('POST', CHECKOUT, { headers: bearer(adminKey, { 'x-client-version': '1.0.0' }), body: BODY }),
      426,
      'upgrade_required_error',
    );
    // Over its budget, the caller is throttled before the org is even looked up (no 404 to learn from).
    expectEnvelope(
      await s.request('POST', '/api/v1/org/globex/credits/checkout', { headers: bearer(adminKey), body: BODY }),
      429,
      'rate_limit_error',
    );
    // An outsider under its budget gets the 404, and its budget was spent on it.
    const notFound = await s.request('GET', BALANCE, { headers: bearer(outsiderKey) });
    expectEnvelope(notFound, 404, 'not_found_error');
  });

  it('never throttles the webhook per caller; its shared budget is its own', async () => {
    // More deliveries from one address than any per-caller budget allows: all accepted.
    for (let i = 0; i < 12; i++) {
      const event = signedEvent(`evt_traffic_${i}`);
      const res = await s.request('POST', '/api/v1/stripe/webhook', { headers: event.headers, raw: event.raw });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-limit')).toBe('12');
    }
    // The 13th in the window exceeds the global webhook budget (Stripe retries a 429 later).
    const event = signedEvent('evt_traffic_over');
    const limited = await s.request('POST', '/api/v1/stripe/webhook', { headers: event.headers, raw: event.raw });
    expectEnvelope(limited, 429, 'rate_limit_error');
    expect(limited.headers.get('retry-after')).toBeTruthy();
  });

  it('does not count or limit health probes', async () => {
    for (let i = 0; i < 8; i++) {
      const res = await s.request('GET', '/healthz');
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-limit')).toBeNull();
    }
  });
});

describe('client version (MIN_CLIENT_VERSION)', () => {
  let s: Stack;
  let key: string;
  const balance = (version?: string) =>
    s.request('GET', BALANCE, {
      headers: bearer(key, version === undefined ? {} : { 'x-client-version': version }),
    });

  beforeAll(async () => {
    s = await startStack({ env: { MIN_CLIENT_VERSION: '2.1.0' } });
    key = await s.member('acme', 'admin@acme.test', 'admin');
  });
  afterAll(() => s?.close());

  it.each(['1.9.9', '2.0.99', '2.1.0-rc.1'])('426 naming the minimum for %s', async (version) => {
    const res = await balance(version);
    expectEnvelope(res, 426, 'upgrade_required_error');
    expect(res.body.detail).toContain('2.1.0');
    expect(res.body.errors).toBeNull();
  });

  it.each(['abc', '2.1', '2.1.0.0', 'v', ' '.repeat(3), '1'.repeat(100)])(
    '400 for a malformed version %p',
    async (version) => {
      const res = await balance(version);
      expectEnvelope(res, 400, 'invalid_request_error');
      expect(res.body.errors).toEqual([
        { loc: ['header', 'x-client-version'], msg: expect.stringContaining('semantic version'), type: 'value_error' },
      ]);
    },
  );

  it.each([undefined, '2.1.0', '2.1.1', '3.0.0', 'v2.1.0'])('serves %s', async (version) => {
    expect((await balance(version)).status).toBe(200);
  });

  it('applies to checkout too, and not to probes, docs or the webhook', async () => {
    const old = { 'x-client-version': '1.0.0' };
    expectEnvelope(
      await s.request('POST', CHECKOUT, { headers: bearer(key, old), body: BODY }),
      426,
      'upgrade_required_error',
    );
    expect((await s.request('GET', '/healthz', { headers: old })).status).toBe(200);
    expect((await s.request('GET', '/docs-json', { headers: old })).status).toBe(200);
    const event = signedEvent('evt_version');
    expect(
      (await s.request('POST', '/api/v1/stripe/webhook', { headers: { ...event.headers, ...old }, raw: event.raw }))
        .status,
    ).toBe(200);
  });

  it('is documented in the OpenAPI document with its 400/426/429 answers', async () => {
    const doc = (await s.request('GET', '/docs-json')).body;
    for (const [path, method] of [
      ['/api/v1/org/{org}/credits/checkout', 'post'],
      ['/api/v1/org/{org}/credits', 'get'],
      ['/api/v1/org/{org}/credits/transactions', 'get'],
    ]) {
      const operation = doc.paths[path][method];
      expect(operation.parameters).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: 'X-Client-Version', in: 'header', required: false })]),
      );
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['400', '426', '429']));
      // Declared by @OrgRole and by the route itself: one description, examples merged.
      expect(operation.responses['400'].description).toBe('Invalid request');
      expect(operation.responses['426'].description).toBe('Upgrade required');
      expect(operation.responses['429'].description).toBe('Rate limited');
      expect(Object.keys(operation.responses['429'].content['application/json'].examples)).toEqual([
        'rate_limit_error',
      ]);
    }
    expect(Object.keys(doc.paths['/api/v1/stripe/webhook'].post.responses)).toContain('429');
  });
});

describe('request deadline (REQUEST_TIMEOUT_MS) while waiting on Stripe', () => {
  let s: Stack;
  let key: string;

  beforeAll(async () => {
    s = await startStack({
      env: { REQUEST_TIMEOUT_MS: '700', STRIPE_TIMEOUT_MS: '5000', STRIPE_MAX_NETWORK_RETRIES: '0' },
    });
    key = await s.member('acme', 'admin@acme.test', 'admin');
    // The org's Stripe customer exists before the slow session call.
    expect((await s.request('POST', CHECKOUT, { headers: bearer(key), body: BODY })).status).toBe(200);
  });
  afterAll(() => s?.close());
  afterEach(() => s.control('DELETE', '/faults'));

  it('answers 504 by the deadline, records nothing when Stripe answers late, and the retry finds the same session', async () => {
    await s.control('DELETE', '/requests');
    await s.control('POST', '/faults', { path: '/v1/checkout/sessions', method: 'POST', delay_ms: 2500, times: 1 });
    const headers = bearer(key, { 'idempotency-key': 'late-answer-1' });
    const started = Date.now();
    const res = await s.request('POST', CHECKOUT, { headers, body: { ...BODY, quantity: 2 } });
    const elapsed = Date.now() - started;
    expectEnvelope(res, 504, 'gateway_timeout_error');
    // Answered at the 700 ms deadline, long before Stripe's 2500 ms answer (slack for a loaded machine).
    expect(elapsed).toBeGreaterThanOrEqual(650);
    expect(elapsed).toBeLessThan(2000);

    // Stripe creates the session after the caller was answered: wait for that late answer.
    const deadline = Date.now() + 5000;
    while (
      Date.now() < deadline &&
      (await s.stripeRequests('/v1/checkout/sessions')).every((r) => r.status === undefined || r.status === null)
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [late] = await s.stripeRequests('/v1/checkout/sessions');
    expect(late.status).toBe(200);
    // Nothing half-written: no session row for an answer nobody received, and the key is free again.
    expect(await s.db.select().from(checkoutSessions).where(eq(checkoutSessions.bundles, 2))).toHaveLength(0);
    expect(await s.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, 'late-answer-1'))).toHaveLength(0);

    // The retry with the same key gets Stripe's replay of that same session and records it once.
    const retry = await s.request('POST', CHECKOUT, { headers, body: { ...BODY, quantity: 2 } });
    expect(retry.status).toBe(200);
    const sent = await s.stripeRequests('/v1/checkout/sessions');
    expect(sent).toHaveLength(2);
    expect(sent[0].headers['idempotency-key']).toBe(sent[1].headers['idempotency-key']);
    const rows = await s.db.select().from(checkoutSessions).where(eq(checkoutSessions.bundles, 2));
    expect(rows.map((r) => r.id)).toEqual([retry.body.session_id]);
  });
});

describe('HTTP hygiene: security headers, CORS', () => {
  let s: Stack;
  let key: string;

  beforeAll(async () => {
    s = await startStack({ env: { CORS_ORIGINS: 'https://app.example.com,http://localhost:5173' } });
    key = await s.member('acme', 'admin@acme.test', 'admin');
  });
  afterAll(() => s?.close());

  it('sends security headers on API answers, errors and the docs', async () => {
    for (const res of [
      await s.request('GET', BALANCE, { headers: bearer(key) }),
      await s.request('GET', '/nope'),
      await s.request('GET', '/docs'),
    ]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    }
  });

  it('answers CORS for configured origins only', async () => {
    const preflight = await s.request('OPTIONS', CHECKOUT, {
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,idempotency-key,x-client-version',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-client-version');

    const allowed = await s.request('GET', BALANCE, {
      headers: bearer(key, { origin: 'http://localhost:5173' }),
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(allowed.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('retry-after');

    const other = await s.request('GET', BALANCE, {
      headers: bearer(key, { origin: 'https://evil.example' }),
    });
    expect(other.status).toBe(200);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
