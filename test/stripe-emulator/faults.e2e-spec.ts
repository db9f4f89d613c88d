import Stripe from 'stripe';
import { startStripeEmulator, type StripeEmulator } from '../../apps/stripe-emulator/src';
import { control, sessionParams, stripeFor } from './helpers';

describe('Stripe emulator: injected faults seen through the stripe SDK', () => {
  let emulator: StripeEmulator;
  let stripe: Stripe;

  const sessionCount = async (): Promise<number> => (await stripe.checkout.sessions.list({ limit: 100 })).data.length;
  const postsTo = async (path: string): Promise<Array<{ status: number | null; headers: Record<string, string> }>> =>
    (await control(emulator, 'GET', `/requests?path=${path}`)).body.filter(
      (r: { method: string }) => r.method === 'POST',
    );

  beforeAll(async () => {
    emulator = await startStripeEmulator({ port: 0 });
    stripe = stripeFor(emulator);
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.reset());

  it('a 500 once is retried by the SDK with the same idempotency key and creates exactly one session', async () => {
    const fault = await control(emulator, 'POST', '/faults', {
      path: '/v1/checkout/sessions',
      method: 'POST',
      status: 500,
      times: 1,
    });
    expect(fault.status).toBe(201);
    const session = await stripe.checkout.sessions.create(sessionParams());
    expect(session.status).toBe('open');
    expect(await sessionCount()).toBe(1);
    const posts = await postsTo('/v1/checkout/sessions');
    expect(posts.map((p) => p.status)).toEqual([500, 200]);
    expect(posts[1].headers['idempotency-key']).toBe(posts[0].headers['idempotency-key']);
    expect((await control(emulator, 'GET', '/faults')).body).toEqual([]);
  });

  it('a 500 on every attempt surfaces as StripeAPIError and creates nothing', async () => {
    await control(emulator, 'POST', '/faults', { path: '/v1/checkout/sessions', method: 'POST', status: 500 });
    const err = await stripe.checkout.sessions.create(sessionParams()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(err).toMatchObject({ statusCode: 500, rawType: 'api_error' });
    expect((await postsTo('/v1/checkout/sessions')).length).toBe(3);
    await control(emulator, 'DELETE', '/faults');
    expect(await sessionCount()).toBe(0);
  });

  it('a dropped connection surfaces as StripeConnectionError', async () => {
    await control(emulator, 'POST', '/faults', { path: '/v1/checkout/sessions', method: 'POST', drop: true });
    const err = await stripe.checkout.sessions.create(sessionParams()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    await control(emulator, 'DELETE', '/faults');
    expect(await sessionCount()).toBe(0);
  });

  it('a response lost after processing is recovered by the retry through idempotency', async () => {
    await control(emulator, 'POST', '/faults', {
      path: '/v1/checkout/sessions',
      method: 'POST',
      drop_after_processing: true,
      times: 1,
    });
    const session = await stripe.checkout.sessions.create(sessionParams());
    expect(await sessionCount()).toBe(1);
    expect((await stripe.checkout.sessions.list()).data[0].id).toBe(session.id);
    expect(session.lastResponse.headers['idempotent-replayed']).toBe('true');
  });

  it('a delay past the SDK timeout surfaces as a connection error', async () => {
    const impatient = stripeFor(emulator, { timeout: 150, maxNetworkRetries: 1 });
    await control(emulator, 'POST', '/faults', { path: '/v1/customers', delay_ms: 400 });
    const started = Date.now();
    const err = await impatient.customers.create({ name: 'Slow' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect((err as Error).message).toMatch(/timeout/i);
    expect(Date.now() - started).toBeLessThan(3000);
    // The server still processes the abandoned attempts; they share one idempotency key: one customer.
    await new Promise((r) => setTimeout(r, 700));
    await control(emulator, 'DELETE', '/faults');
    expect((await stripe.customers.list()).data.map((c) => c.name)).toEqual(['Slow']);
  });

  it('a delay without status answers normally afterwards', async () => {
    await control(emulator, 'POST', '/faults', { path: '/v1/customers', delay_ms: 150, times: 1 });
    const started = Date.now();
    const customer = await stripe.customers.create({ name: 'Late' });
    expect(customer.id).toMatch(/^cus_/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  const statusCases: Array<[number, new (...args: never[]) => Error, string]> = [
    [401, Stripe.errors.StripeAuthenticationError, 'invalid_request_error'],
    [400, Stripe.errors.StripeInvalidRequestError, 'invalid_request_error'],
    [402, Stripe.errors.StripeCardError, 'card_error'],
    [429, Stripe.errors.StripeRateLimitError, 'invalid_request_error'],
    [503, Stripe.errors.StripeAPIError, 'api_error'],
  ];
  it.each(statusCases)('a %i fault becomes %p', async (status, errorClass, rawType) => {
    await control(emulator, 'POST', '/faults', { path: '/v1/customers', status, times: status >= 500 ? 0 : 1 });
    const err = await stripe.customers.create({ name: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(errorClass);
    expect(err).toMatchObject({ statusCode: status, rawType });
    if (status === 400) expect(err).toMatchObject({ param: 'emulator_fault' });
    if (status === 429) expect(err).toMatchObject({ code: 'rate_limit' });
    await control(emulator, 'DELETE', '/faults');
    expect((await stripe.customers.list()).data).toHaveLength(0);
  });

  it('a fault can carry its own Stripe error body and is scoped by method and path prefix', async () => {
    await control(emulator, 'POST', '/faults', {
      path: '/v1/checkout',
      method: 'POST',
      status: 400,
      body: {
        error: { type: 'invalid_request_error', code: 'url_invalid', param: 'success_url', message: 'Not a valid URL' },
      },
    });
    const customer = await stripe.customers.create({ name: 'unaffected' });
    expect(customer.id).toMatch(/^cus_/);
    const err = await stripe.checkout.sessions.create(sessionParams()).catch((e: unknown) => e);
    expect(err).toMatchObject({
      statusCode: 400,
      code: 'url_invalid',
      param: 'success_url',
      message: 'Not a valid URL',
    });
    const list = await control(emulator, 'GET', '/faults');
    expect(list.body).toHaveLength(1);
    expect(list.body[0]).toMatchObject({ path: '/v1/checkout', method: 'POST', status: 400, times: null, matched: 1 });
  });

  it('refuses malformed fault definitions', async () => {
    expect((await control(emulator, 'POST', '/faults', { status: 500 })).status).toBe(400);
    expect((await control(emulator, 'POST', '/faults', { path: '/v1/x' })).status).toBe(400);
    expect((await control(emulator, 'POST', '/faults', { path: '/v1/x', status: 200 })).status).toBe(400);
    expect((await control(emulator, 'POST', '/faults', { path: '/_emulator/health', status: 500 })).status).toBe(400);
  });
});
