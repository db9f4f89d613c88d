import { eq } from 'drizzle-orm';
import { checkoutSessions, idempotencyKeys, organizations } from '@credits/database';
import { startStack, Stack } from '../support/stack';
import { bearer } from '../support/auth';
import { until } from '../support/until';

const SUCCESS = 'http://localhost:3000/billing/success?session_id={CHECKOUT_SESSION_ID}';
const CANCEL = 'http://localhost:3000/billing/cancel';
const PATH = '/api/v1/org/acme/credits/checkout';

describe('POST /api/v1/org/{org}/credits/checkout', () => {
  let s: Stack;
  let adminKey: string;
  let memberKey: string;
  let outsiderKey: string;
  const checkout = (body: unknown, headers: Record<string, string> = {}, key = adminKey) =>
    s.request('POST', PATH, { headers: bearer(key, headers), body });

  beforeAll(async () => {
    s = await startStack();
    adminKey = await s.member('acme', 'admin@acme.test', 'admin');
    memberKey = await s.member('acme', 'member@acme.test', 'member');
    outsiderKey = await s.member('globex', 'owner@globex.test', 'owner');
  });
  afterAll(() => s?.close());
  afterEach(() => s.control('DELETE', '/faults'));

  it('creates a session: 200 with the contract fields, and sends Stripe the right request', async () => {
    await s.control('DELETE', '/requests');
    const res = await checkout({ success_url: SUCCESS, cancel_url: CANCEL, quantity: 3 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      checkout_url: expect.stringMatching(new RegExp(`^${s.emulator.url}/pay/cs_test_`)),
      session_id: expect.stringMatching(/^cs_test_/),
      expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      credits: 3000,
      amount_total: 3000,
      currency: 'usd',
    });

    const [org] = await s.db.select().from(organizations).where(eq(organizations.slug, 'acme'));
    expect(org.stripeCustomerId).toMatch(/^cus_/);
    const [sent] = await s.stripeRequests('/v1/checkout/sessions');
    expect(sent.headers['idempotency-key']).toBeTruthy();
    expect(sent.body).toMatchObject({
      mode: 'payment',
      customer: org.stripeCustomerId,
      client_reference_id: org.id,
      success_url: SUCCESS,
      cancel_url: CANCEL,
      line_items: [{ quantity: '3', price_data: { currency: 'usd', unit_amount: '1000' } }],
      metadata: { org_id: org.id, org_slug: 'acme', bundles: '3', credits: '3000', user_id: expect.any(String) },
    });

    const [row] = await s.db.select().from(checkoutSessions).where(eq(checkoutSessions.id, res.body.session_id));
    expect(row).toMatchObject({ orgId: org.id, bundles: 3, credits: 3000, status: 'open', amountTotal: 3000 });
  });

  it('defaults quantity to one bundle', async () => {
    const res = await checkout({ success_url: SUCCESS, cancel_url: CANCEL });
    expect(res.status).toBe(200);
    expect(res.body.credits).toBe(1000);
    expect(res.body.amount_total).toBe(1000);
  });

  describe('422 validation', () => {
    const cases: [string, unknown, { loc: unknown[]; type: string }[]][] = [
      [
        'both URLs missing',
        {},
        [
          { loc: ['body', 'success_url'], type: 'missing' },
          { loc: ['body', 'cancel_url'], type: 'missing' },
        ],
      ],
      [
        'not a URL',
        { success_url: 'not a url', cancel_url: '/relative' },
        [
          { loc: ['body', 'success_url'], type: 'url_parsing' },
          { loc: ['body', 'cancel_url'], type: 'url_parsing' },
        ],
      ],
      [
        'wrong scheme',
        { success_url: 'ftp://localhost/x', cancel_url: 'javascript://localhost/%0Aalert(1)' },
        [
          { loc: ['body', 'success_url'], type: 'url_scheme' },
          { loc: ['body', 'cancel_url'], type: 'url_scheme' },
        ],
      ],
      [
        'host not on the allow-list',
        { success_url: 'https://evil.example/x', cancel_url: 'http://localhost.evil.example/' },
        [
          { loc: ['body', 'success_url'], type: 'url_host_not_allowed' },
          { loc: ['body', 'cancel_url'], type: 'url_host_not_allowed' },
        ],
      ],
      [
        'placeholder only allowed in success_url',
        { success_url: SUCCESS, cancel_url: `${CANCEL}?id={CHECKOUT_SESSION_ID}` },
        [{ loc: ['body', 'cancel_url'], type: 'url_parsing' }],
      ],
      [
        'URL too long',
        { success_url: `http://localhost/${'a'.repeat(2048)}`, cancel_url: CANCEL },
        [{ loc: ['body', 'success_url'], type: 'string_too_long' }],
      ],
      [
        'URL not a string',
        { success_url: 42, cancel_url: CANCEL },
        [{ loc: ['body', 'success_url'], type: 'string_type' }],
      ],
      [
        'quantity as a JSON string',
        { success_url: SUCCESS, cancel_url: CANCEL, quantity: '2' },
        [{ loc: ['body', 'quantity'], type: 'int_type' }],
      ],
      [
        'quantity fractional',
        { success_url: SUCCESS, cancel_url: CANCEL, quantity: 1.5 },
        [{ loc: ['body', 'quantity'], type: 'int_type' }],
      ],
      [
        'quantity boolean',
        { success_url: SUCCESS, cancel_url: CANCEL, quantity: true },
        [{ loc: ['body', 'quantity'], type: 'int_type' }],
      ],
      [
        'quantity null',
        { success_url: SUCCESS, cancel_url: CANCEL, quantity: null },
        [{ loc: ['body', 'quantity'], type: 'int_type' }],
      ],
      [
        'quantity 0',
        { success_url: SUCCESS, cancel_url: CANCEL, quantity: 0 },
        [{ loc: ['body', 'quantity'], type: 'greater_than_equal' }],
      ],
      [
        'quantity 11',
        { success_url: SUCCESS, cancel_url: CANCEL, quantity: 11 },
        [{ loc: ['body', 'quantity'], type: 'less_than_equal' }],
      ],
      [
        'unknown field',
        { success_url: SUCCESS, cancel_url: CANCEL, price: 1 },
        [{ loc: ['body', 'price'], type: 'extra_forbidden' }],
      ],
    ];

    it.each(cases)('%s', async (_name, body, expected) => {
      const before = (await s.stripeRequests('/v1/checkout/sessions')).length;
      const res = await checkout(body);
      expect(res.status).toBe(422);
      expect(res.body.type).toBe('validation_error');
      expect(res.body.errors.map((e: any) => ({ loc: e.loc, type: e.type }))).toEqual(expected);
      for (const error of res.body.errors) expect(error.msg).toEqual(expect.any(String));
      expect((await s.stripeRequests('/v1/checkout/sessions')).length).toBe(before);
    });

    it('reports quantity 11 with the published message', async () => {
      const res = await checkout({ success_url: SUCCESS, cancel_url: CANCEL, quantity: 11 });
      expect(res.body.errors).toEqual([
        { loc: ['body', 'quantity'], msg: 'Input should be less than or equal to 10', type: 'less_than_equal' },
      ]);
    });

    it('rejects a bad Idempotency-Key header with its own loc', async () => {
      const res = await checkout({ success_url: SUCCESS, cancel_url: CANCEL }, { 'idempotency-key': 'x'.repeat(256) });
      expect(res.status).toBe(422);
      expect(res.body.errors[0]).toMatchObject({ loc: ['header', 'idempotency-key'], type: 'string_too_long' });
    });
  });

  it('401 without credentials, 403 for a member, 404 for an outsider', async () => {
    const body = { success_url: SUCCESS, cancel_url: CANCEL };
    const none = await s.request('POST', PATH, { body });
    expect([none.status, none.body.type]).toEqual([401, 'authentication_error']);
    const member = await checkout(body, {}, memberKey);
    expect([member.status, member.body.type]).toEqual([403, 'forbidden_error']);
    const outsider = await checkout(body, {}, outsiderKey);
    expect([outsider.status, outsider.body.type]).toEqual([404, 'not_found_error']);
  });

  describe('Stripe failures', () => {
    const body = { success_url: SUCCESS, cancel_url: CANCEL };
    const openRows = async () => (await s.db.select().from(checkoutSessions)).length;

    it('a 500 once is retried by the SDK and creates exactly one session', async () => {
      await s.control('DELETE', '/requests');
      await s.control('POST', '/faults', { path: '/v1/checkout/sessions', status: 500, times: 1 });
      const res = await checkout(body);
      expect(res.status).toBe(200);
      const sent = await s.stripeRequests('/v1/checkout/sessions');
      expect(sent).toHaveLength(2);
      expect(sent[0].headers['idempotency-key']).toBe(sent[1].headers['idempotency-key']);
    });

    it.each([
      ['500 always', { status: 500 }, 502, 'payment_provider_error'],
      ['a dropped connection', { drop: true }, 502, 'payment_provider_error'],
      ['401 from Stripe', { status: 401 }, 500, 'configuration_error'],
      ['429 from Stripe', { status: 429 }, 502, 'payment_provider_error'],
    ])('%s -> %s %s, nothing recorded', async (_name, fault, status, type) => {
      const rows = await openRows();
      await s.control('POST', '/faults', { path: '/v1/checkout/sessions', ...fault });
      const res = await checkout(body);
      expect([res.status, res.body.type]).toEqual([status, type]);
      expect(res.text).not.toContain('sk_test_stack');
      expect(await openRows()).toBe(rows);
    });

    it('a Stripe 400 on a parameter the caller chose -> 400 naming it', async () => {
      await s.control('POST', '/faults', {
        path: '/v1/checkout/sessions',
        status: 400,
        body: { error: { type: 'invalid_request_error', param: 'success_url', message: 'Not a valid URL' } },
      });
      const res = await checkout(body);
      expect([res.status, res.body.type]).toEqual([400, 'invalid_request_error']);
      expect(res.body.errors[0].loc).toEqual(['body', 'success_url']);
    });

    it('a delay past the timeout -> 504 within the deadline', async () => {
      const rows = await openRows();
      await s.control('POST', '/faults', { path: '/v1/checkout/sessions', delay_ms: 5000 });
      const started = Date.now();
      const res = await checkout(body);
      const elapsed = Date.now() - started;
      expect([res.status, res.body.type]).toEqual([504, 'gateway_timeout_error']);
      // timeout 1000 ms x 3 attempts, plus back-off
      expect(elapsed).toBeLessThan(3 * 1000 + 1500);
      expect(await openRows()).toBe(rows);
    });
  });

  describe('Idempotency-Key', () => {
    const body = { success_url: SUCCESS, cancel_url: CANCEL, quantity: 2 };

    it('same key + same body replays the first answer without a second Stripe call', async () => {
      await s.control('DELETE', '/requests');
      const first = await checkout(body, { 'idempotency-key': 'replay-1' });
      const second = await checkout(
        { quantity: 2, cancel_url: CANCEL, success_url: SUCCESS },
        { 'idempotency-key': 'replay-1' },
      );
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect(second.body).toEqual(first.body);
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      const keyed = (await s.stripeRequests('/v1/checkout/sessions')).filter((r) =>
        r.headers['idempotency-key'].startsWith('credits-api:checkout:'),
      );
      expect(keyed).toHaveLength(1);
    });

    it('same key + another body -> 409', async () => {
      await checkout(body, { 'idempotency-key': 'mismatch-1' });
      const res = await checkout({ ...body, quantity: 3 }, { 'idempotency-key': 'mismatch-1' });
      expect([res.status, res.body.type]).toEqual([409, 'conflict_error']);
    });

    it('keys are scoped per caller: another admin may use the same key', async () => {
      const otherAdmin = await s.member('acme', 'admin2@acme.test', 'admin');
      const mine = await checkout(body, { 'idempotency-key': 'shared-1' });
      const theirs = await checkout(body, { 'idempotency-key': 'shared-1' }, otherAdmin);
      expect(theirs.status).toBe(200);
      expect(theirs.body.session_id).not.toBe(mine.body.session_id);
    });

    it('same key while the first is in flight -> 409, and exactly one Stripe session', async () => {
      await s.control('DELETE', '/requests');
      await s.control('POST', '/faults', { path: '/v1/checkout/sessions', delay_ms: 600, times: 1 });
      const first = checkout(body, { 'idempotency-key': 'concurrent-1' });
      await until('the first request claimed its key', async () =>
        (await s.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, 'concurrent-1'))).some(
          (row) => row.state === 'in_progress',
        ),
      );
      const second = await checkout(body, { 'idempotency-key': 'concurrent-1' });
      expect([second.status, second.body.type]).toEqual([409, 'conflict_error']);
      expect((await first).status).toBe(200);
      // Keyed requests only: an earlier test's attempt held 5 s by its fault may land in the log now.
      const keyed = (await s.stripeRequests('/v1/checkout/sessions')).filter((r) =>
        r.headers['idempotency-key'].startsWith('credits-api:checkout:'),
      );
      expect(keyed).toHaveLength(1);
      const replay = await checkout(body, { 'idempotency-key': 'concurrent-1' });
      expect(replay.body.session_id).toBe((await first).body.session_id);
    });

    it('a 5xx does not poison the key', async () => {
      await s.control('POST', '/faults', { path: '/v1/checkout/sessions', status: 500 });
      const failed = await checkout(body, { 'idempotency-key': 'poison-1' });
      expect(failed.status).toBe(502);
      await s.control('DELETE', '/faults');
      const retried = await checkout(body, { 'idempotency-key': 'poison-1' });
      expect(retried.status).toBe(200);
    });

    it('without the header each request creates its own session', async () => {
      const a = await checkout(body);
      const b = await checkout(body);
      expect(a.body.session_id).not.toBe(b.body.session_id);
    });
  });

  it('twenty concurrent first purchases of a new org create exactly one Stripe customer', async () => {
    const key = await s.member('initech', 'admin@initech.test', 'admin');
    await s.control('DELETE', '/requests');
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        s.request('POST', '/api/v1/org/initech/credits/checkout', {
          headers: bearer(key),
          body: { success_url: SUCCESS, cancel_url: CANCEL },
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const initech = (await s.stripeRequests('/v1/checkout/sessions')).filter(
      (r) => r.body.metadata?.org_slug === 'initech',
    );
    // Count Stripe operations, not HTTP attempts: on a loaded machine the SDK may time out and
    // retry an attempt (same idempotency key, the same session at Stripe), which the log shows twice.
    expect(new Set(initech.map((r) => r.headers['idempotency-key'])).size).toBe(20);
    const customers = new Set(initech.map((r) => r.body.customer));
    expect(customers.size).toBe(1);
    const [org] = await s.db.select().from(organizations).where(eq(organizations.slug, 'initech'));
    expect(customers.has(org.stripeCustomerId)).toBe(true);
  });

  it("a purchase that joined another's customer creation is not failed by that request's failure: it tries on its own", async () => {
    const key = await s.member('umbrella', 'admin@umbrella.test', 'admin');
    // Every attempt of the first request fails (the SDK tries 3 times); the second request
    // arrives meanwhile, joins that creation, and succeeds with its own attempt.
    await s.control('POST', '/faults', { path: '/v1/customers', method: 'POST', status: 500, delay_ms: 200, times: 3 });
    const buy = () =>
      s.request('POST', '/api/v1/org/umbrella/credits/checkout', {
        headers: bearer(key),
        body: { success_url: SUCCESS, cancel_url: CANCEL },
      });
    const first = buy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Whichever started the creation (on a loaded machine it may be the second) gets the 502.
    const results = await Promise.all([first, buy()]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 502]);
    expect(results.find((r) => r.status === 502)?.body.type).toBe('payment_provider_error');
    const [org] = await s.db.select().from(organizations).where(eq(organizations.slug, 'umbrella'));
    const session = (await s.stripeRequests('/v1/checkout/sessions')).find(
      (r) => r.body.metadata?.org_slug === 'umbrella',
    );
    expect(session?.body.customer).toBe(org.stripeCustomerId);
  });
});
