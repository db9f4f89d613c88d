import Stripe from 'stripe';
import { startStripeEmulator, type StripeEmulator } from '../../apps/stripe-emulator/src';
import { control, sessionParams, stripeFor } from './helpers';

describe('Stripe emulator: API through the stripe SDK', () => {
  let emulator: StripeEmulator;
  let stripe: Stripe;

  beforeAll(async () => {
    emulator = await startStripeEmulator({ port: 0 });
    stripe = stripeFor(emulator);
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.reset());

  describe('customers', () => {
    it('creates, retrieves and lists with an email filter', async () => {
      const created = await stripe.customers.create({
        name: 'Acme',
        email: 'billing@acme.test',
        metadata: { org_id: 'org_1' },
      });
      expect(created).toMatchObject({
        object: 'customer',
        name: 'Acme',
        email: 'billing@acme.test',
        metadata: { org_id: 'org_1' },
        livemode: false,
      });
      expect(created.id).toMatch(/^cus_[A-Za-z0-9]{14}$/);
      expect(created.created).toBeGreaterThan(1_600_000_000);
      await stripe.customers.create({ name: 'Other', email: 'other@acme.test' });

      const fetched = await stripe.customers.retrieve(created.id);
      expect(fetched).toEqual(created);

      const list = await stripe.customers.list({ email: 'billing@acme.test', limit: 5 });
      expect(list).toMatchObject({ object: 'list', has_more: false, url: '/v1/customers' });
      expect(list.data.map((c) => c.id)).toEqual([created.id]);
      const all = await stripe.customers.list({ limit: 1 });
      expect(all.data).toHaveLength(1);
      expect(all.has_more).toBe(true);
    });

    it('updates a customer, merging metadata like Stripe', async () => {
      const created = await stripe.customers.create({ name: 'Acme', metadata: { org_id: 'org_1', plan: 'x' } });
      const updated = await stripe.customers.update(created.id, {
        email: 'new@acme.test',
        metadata: { plan: '', tier: 'gold' },
      });
      expect(updated).toMatchObject({
        name: 'Acme',
        email: 'new@acme.test',
        metadata: { org_id: 'org_1', tier: 'gold' },
      });
      expect(updated.metadata.plan).toBeUndefined();
    });

    it('answers 404 resource_missing for an unknown customer', async () => {
      const err = await stripe.customers.retrieve('cus_nope').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(err).toMatchObject({ statusCode: 404, code: 'resource_missing', message: "No such customer: 'cus_nope'" });
    });
  });

  describe('checkout sessions', () => {
    it('creates a session like Stripe and retrieves it with expanded line items', async () => {
      const customer = await stripe.customers.create({ email: 'a@acme.test' });
      const session = await stripe.checkout.sessions.create(
        sessionParams({ customer: customer.id, client_reference_id: 'org_1' }),
      );
      expect(session.id).toMatch(/^cs_test_[A-Za-z0-9]{58}$/);
      expect(session).toMatchObject({
        object: 'checkout.session',
        url: `${emulator.url}/pay/${session.id}`,
        status: 'open',
        payment_status: 'unpaid',
        mode: 'payment',
        amount_subtotal: 3000,
        amount_total: 3000,
        currency: 'usd',
        customer: customer.id,
        client_reference_id: 'org_1',
        metadata: { org_id: 'org_1', credits: '3000' },
        success_url: 'http://localhost:5173/billing/success?session_id={CHECKOUT_SESSION_ID}',
        cancel_url: 'http://localhost:5173/billing/cancel',
        payment_intent: null,
        livemode: false,
      });
      expect(session.expires_at).toBe(session.created + 24 * 3600);
      expect(session.line_items).toBeUndefined();

      const fetched = await stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items'] });
      expect(fetched.line_items).toMatchObject({
        object: 'list',
        data: [
          {
            object: 'item',
            quantity: 3,
            amount_total: 3000,
            currency: 'usd',
            description: '1,000 credits',
            price: { unit_amount: 1000, currency: 'usd' },
          },
        ],
      });
      expect(fetched.line_items!.data[0].price!.id).toMatch(/^price_/);

      const expanded = await stripe.checkout.sessions.retrieve(session.id, { expand: ['customer'] });
      expect(expanded.customer).toMatchObject({ id: customer.id, object: 'customer' });
    });

    it('accepts a configured price and refuses an unknown one', async () => {
      const price = await stripe.prices.create({ currency: 'eur', unit_amount: 500, product_data: { name: 'Bundle' } });
      expect(price).toMatchObject({ object: 'price', unit_amount: 500, currency: 'eur', active: true });
      const session = await stripe.checkout.sessions.create(
        sessionParams({ line_items: [{ price: price.id, quantity: 2 }] }),
      );
      expect(session).toMatchObject({ amount_total: 1000, currency: 'eur' });

      const err = await stripe.checkout.sessions
        .create(sessionParams({ line_items: [{ price: 'price_missing', quantity: 1 }] }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(err).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'line_items[0][price]' });
    });

    it('refuses an unknown customer with param customer', async () => {
      const err = await stripe.checkout.sessions
        .create(sessionParams({ customer: 'cus_missing' }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(err).toMatchObject({
        statusCode: 400,
        code: 'resource_missing',
        param: 'customer',
        message: "No such customer: 'cus_missing'",
      });
    });

    const invalid: Array<[string, Record<string, unknown>, string]> = [
      ['missing mode', { mode: undefined }, 'mode'],
      ['unsupported mode', { mode: 'bogus' }, 'mode'],
      ['missing success_url', { success_url: undefined }, 'success_url'],
      ['relative success_url', { success_url: '/ok' }, 'success_url'],
      ['invalid cancel_url', { cancel_url: 'nope' }, 'cancel_url'],
      ['missing line_items', { line_items: undefined }, 'line_items'],
      [
        'missing quantity',
        { line_items: [{ price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: 'x' } } }] },
        'line_items[0][quantity]',
      ],
      [
        'quantity 0',
        {
          line_items: [
            { quantity: 0, price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: 'x' } } },
          ],
        },
        'line_items[0][quantity]',
      ],
      [
        'quantity not an integer',
        {
          line_items: [
            { quantity: 1.5, price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: 'x' } } },
          ],
        },
        'line_items[0][quantity]',
      ],
      [
        'negative unit_amount',
        {
          line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: -1, product_data: { name: 'x' } } }],
        },
        'line_items[0][price_data][unit_amount]',
      ],
      [
        'missing currency',
        { line_items: [{ quantity: 1, price_data: { unit_amount: 1000, product_data: { name: 'x' } } }] },
        'line_items[0][price_data][currency]',
      ],
      [
        'empty product name',
        {
          line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: '' } } }],
        },
        'line_items[0][price_data][product_data][name]',
      ],
      [
        'missing product_data',
        { line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 1000 } }] },
        'line_items[0][price_data][product_data]',
      ],
      ['neither price nor price_data', { line_items: [{ quantity: 1 }] }, 'line_items[0][price]'],
      ['metadata key over 40 characters', { metadata: { ['k'.repeat(41)]: 'v' } }, `metadata[${'k'.repeat(41)}]`],
      ['metadata value over 500 characters', { metadata: { org_id: 'v'.repeat(501) } }, 'metadata[org_id]'],
      [
        'more than 50 metadata keys',
        { metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) },
        'metadata',
      ],
      ['expires_at too soon', { expires_at: Math.floor(Date.now() / 1000) + 60 }, 'expires_at'],
      ['an unknown parameter', { colour: 'blue' }, 'colour'],
    ];
    it.each(invalid)('answers 400 with param for %s', async (_label, overrides, param) => {
      const params = { ...sessionParams(), ...overrides } as Record<string, unknown>;
      for (const key of Object.keys(params)) if (params[key] === undefined) delete params[key];
      const err = await stripe.checkout.sessions.create(params as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(err).toMatchObject({
        statusCode: 400,
        type: 'StripeInvalidRequestError',
        rawType: 'invalid_request_error',
        param,
      });
      expect((err as Error).message.length).toBeGreaterThan(5);
    });

    it('creates no object when validation fails', async () => {
      await stripe.checkout.sessions
        .create(
          sessionParams({
            line_items: [
              { quantity: 1, price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: 'ok' } } },
              { quantity: 0, price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: 'bad' } } },
            ],
          }),
        )
        .catch(() => undefined);
      expect((await stripe.checkout.sessions.list()).data).toHaveLength(0);
      expect((await stripe.prices.list()).data).toHaveLength(0);
    });

    it('lists sessions newest first by created range, status and page, as Stripe does', async () => {
      const first = await stripe.checkout.sessions.create(sessionParams());
      const second = await stripe.checkout.sessions.create(sessionParams());
      await control(emulator, 'POST', `/sessions/${first.id}/expire`);
      const now = first.created;

      const ids = async (params: Stripe.Checkout.SessionListParams) =>
        (await stripe.checkout.sessions.list(params)).data.map((s) => s.id);
      expect(await ids({ created: { gte: now - 60, lte: now + 60 } })).toEqual([second.id, first.id]);
      expect(await ids({ created: { gt: now + 60 } })).toEqual([]);
      expect(await ids({ created: { lt: now - 60 } })).toEqual([]);
      expect(await ids({ created: now })).toEqual(second.created === now ? [second.id, first.id] : [first.id]);
      expect(await ids({ status: 'expired' })).toEqual([first.id]);
      const page = await stripe.checkout.sessions.list({ limit: 1 });
      expect(page).toMatchObject({ has_more: true, data: [{ id: second.id }] });
      expect(await ids({ limit: 1, starting_after: second.id })).toEqual([first.id]);

      const bad = await stripe.checkout.sessions.list({ created: { after: 1 } } as never).catch((e: unknown) => e);
      expect(bad).toMatchObject({ statusCode: 400, param: 'created[after]' });
    });

    it('returns 404 resource_missing for an unknown session', async () => {
      const err = await stripe.checkout.sessions.retrieve('cs_test_missing').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(err).toMatchObject({ statusCode: 404, code: 'resource_missing' });
    });
  });

  describe('idempotency', () => {
    it('replays the stored response for the same key and parameters, creating one session', async () => {
      const first = await stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: 'idem-1' });
      const second = await stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: 'idem-1' });
      expect(second).toEqual(first);
      expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      expect((await stripe.checkout.sessions.list()).data).toHaveLength(1);
    });

    it('a key forgotten (Stripe keeps them 24 h) runs the request again', async () => {
      const first = await stripe.customers.create({ name: 'A' }, { idempotencyKey: 'idem-old' });
      expect((await control(emulator, 'DELETE', '/idempotency_keys')).status).toBe(200);
      const second = await stripe.customers.create({ name: 'A' }, { idempotencyKey: 'idem-old' });
      expect(second.id).not.toBe(first.id);
      expect(second.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    });

    it('keys are per API key', async () => {
      const other = stripeFor(emulator, {}, 'sk_test_other');
      const a = await stripe.customers.create({ name: 'A' }, { idempotencyKey: 'shared' });
      const b = await other.customers.create({ name: 'A' }, { idempotencyKey: 'shared' });
      expect(b.id).not.toBe(a.id);
    });

    it('refuses the same key with other parameters (StripeIdempotencyError)', async () => {
      await stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: 'idem-2' });
      const err = await stripe.checkout.sessions
        .create(sessionParams({ client_reference_id: 'different' }), { idempotencyKey: 'idem-2' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
      expect(err).toMatchObject({ statusCode: 400, rawType: 'idempotency_error' });
    });

    it('does not store a validation error, so the key can be used again', async () => {
      const bad = await stripe.checkout.sessions
        .create(sessionParams({ customer: 'cus_missing' }), { idempotencyKey: 'idem-3' })
        .catch((e: unknown) => e);
      expect(bad).toMatchObject({ statusCode: 400 });
      const good = await stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: 'idem-3' });
      expect(good.id).toMatch(/^cs_test_/);
    });

    it('answers 409 idempotency_key_in_use while the first request runs; the SDK retries into a replay', async () => {
      await control(emulator, 'POST', '/faults', {
        path: '/v1/checkout/sessions',
        method: 'POST',
        delay_ms: 700,
        hold_lock: true,
        times: 1,
      });
      const [a, b] = await Promise.all([
        stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: 'idem-4' }),
        new Promise((r) => setTimeout(r, 100)).then(() =>
          stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: 'idem-4' }),
        ),
      ]);
      expect(b.id).toBe(a.id);
      expect((await stripe.checkout.sessions.list()).data).toHaveLength(1);
      const log = await control(emulator, 'GET', '/requests?path=/v1/checkout/sessions');
      const statuses = log.body
        .filter((r: { method: string }) => r.method === 'POST')
        .map((r: { status: number }) => r.status);
      expect(statuses).toContain(409);
      expect(statuses.filter((s: number) => s === 200)).toHaveLength(
        statuses.length - statuses.filter((s: number) => s === 409).length,
      );
    });

    it('409 wire format', async () => {
      await control(emulator, 'POST', '/faults', { path: '/v1/customers', delay_ms: 400, hold_lock: true, times: 1 });
      const post = (): Promise<Response> =>
        fetch(`${emulator.url}/v1/customers`, {
          method: 'POST',
          headers: {
            authorization: 'Bearer sk_test_123',
            'idempotency-key': 'k409',
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'name=A',
        });
      const first = post();
      await new Promise((r) => setTimeout(r, 100));
      const second = await post();
      expect(second.status).toBe(409);
      expect(second.headers.get('stripe-should-retry')).toBe('true');
      expect(await second.json()).toMatchObject({
        error: { type: 'idempotency_error', code: 'idempotency_key_in_use' },
      });
      expect((await first).status).toBe(200);
    });
  });

  describe('wire format', () => {
    it('refuses requests without a valid key, never echoing it', async () => {
      const none = await fetch(`${emulator.url}/v1/customers`);
      expect(none.status).toBe(401);
      const key = 'pk_test_abcdefghijklmnopqrstuvwxyz';
      const bad = await stripeFor(emulator, {}, key)
        .customers.list()
        .catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      expect((bad as Error).message).toMatch(/^Invalid API Key provided: /);
      expect((bad as Error).message).not.toContain(key);
      expect((bad as Error).message).not.toContain('abcdefghijklmnop');
      await expect(stripeFor(emulator, {}, 'rk_test_restricted').customers.list()).resolves.toMatchObject({
        object: 'list',
      });
    });

    it('answers unknown routes with a Stripe-style 404', async () => {
      const res = await fetch(`${emulator.url}/v1/nothing`, { headers: { authorization: 'Bearer sk_test_1' } });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({
        error: { type: 'invalid_request_error', message: expect.stringContaining('Unrecognized request URL') },
      });
    });

    it('parses GET query strings with expand[]', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const res = await fetch(`${emulator.url}/v1/checkout/sessions/${session.id}?expand[]=line_items`, {
        headers: { authorization: 'Bearer sk_test_1' },
      });
      const body = (await res.json()) as { line_items: { data: unknown[] } };
      expect(body.line_items.data).toHaveLength(1);
    });

    it('logs requests with the Authorization header masked', async () => {
      await stripe.customers.create({ name: 'Logged', metadata: { a: '1' } });
      const log = await control(emulator, 'GET', '/requests?path=/v1/customers');
      expect(log.body).toHaveLength(1);
      expect(log.body[0]).toMatchObject({
        method: 'POST',
        path: '/v1/customers',
        status: 200,
        body: { name: 'Logged', metadata: { a: '1' } },
      });
      expect(log.body[0].headers.authorization).toBe('Bearer sk_test_****');
      expect(log.body[0].headers['idempotency-key']).toMatch(/^stripe-node-retry-/);
      await control(emulator, 'DELETE', '/requests');
      expect((await control(emulator, 'GET', '/requests')).body).toEqual([]);
    });

    it('health', async () => {
      expect(await control(emulator, 'GET', '/health')).toEqual({ status: 200, body: { ok: true } });
    });

    it('gc collects on demand under node --expose-gc, and says how to get it otherwise', async () => {
      const global = globalThis as { gc?: () => void };
      const exposed = global.gc;
      try {
        delete global.gc;
        expect(await control(emulator, 'POST', '/gc')).toEqual({
          status: 409,
          body: { error: { message: 'start the emulator with node --expose-gc to collect on demand' } },
        });
        const collect = jest.fn();
        global.gc = collect;
        const collected = await control(emulator, 'POST', '/gc');
        expect(collected).toEqual({ status: 200, body: { ok: true, heap_used_bytes: expect.any(Number) } });
        expect(collect).toHaveBeenCalledTimes(1);
      } finally {
        if (exposed) global.gc = exposed;
        else delete global.gc;
      }
    });
  });
});
