import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Middleware } from 'openapi-fetch';
import { eq } from 'drizzle-orm';
import { LedgerService } from '@credits/billing';
import { organizations } from '@credits/database';
import { createCreditsClient, type CreditsClient } from '../../clients/typescript/src';
import { payloadOf, sign } from '../e2e/fulfilment/helpers';
import { SPEND } from '../support/auth';
import { startStack, Stack } from '../support/stack';
import { SchemaValidator } from './schema-validator';

const doc = JSON.parse(readFileSync(join(__dirname, '../../openapi.json'), 'utf8'));
const SUCCESS_URL = 'http://localhost:3000/billing/success?session_id={CHECKOUT_SESSION_ID}';
const CANCEL_URL = 'http://localhost:3000/billing/cancel';

/**
 * The committed client against the running service and the Stripe emulator. Every answer it
 * receives is checked against openapi.json: its status is one the operation lists, and its
 * body matches that response's schema, with no field the document does not declare. The
 * calls themselves are type-checked against schema.d.ts with the rest of the repository.
 */
describe('the TypeScript client against the running service', () => {
  let s: Stack;
  let admin: CreditsClient;
  let member: CreditsClient;
  const validator = new SchemaValidator(doc);
  const answers: { call: string; status: number; problems: string[] }[] = [];

  const conformance: Middleware = {
    async onResponse({ request, response, schemaPath }) {
      const text = await response.clone().text();
      const body: unknown = text === '' ? undefined : JSON.parse(text);
      const contentType = response.headers.get('content-type');
      answers.push({
        call: `${request.method} ${schemaPath}`,
        status: response.status,
        problems: validator.responseErrors(request.method, schemaPath, response.status, contentType, body),
      });
    },
  };
  const clientFor = (token: string) => {
    const client = createCreditsClient({ baseUrl: s.url, token });
    client.use(conformance);
    return client;
  };
  const checkoutBody = { success_url: SUCCESS_URL, cancel_url: CANCEL_URL };
  /** The answers of this test so far, each with what breaks the document (nothing, when they conform). */
  const takeAnswers = () =>
    answers.splice(0).map(({ call, status, problems }): [string, number, string[]] => [call, status, problems]);

  beforeAll(async () => {
    s = await startStack();
    admin = clientFor(await s.member('acme', 'admin@acme.test', 'admin'));
    member = clientFor(await s.member('acme', 'member@acme.test', 'member'));
  });
  afterAll(() => s?.close());

  it('buys credits, is paid through the webhook, and reads the balance and the ledger', async () => {
    const org = { path: { org: 'acme' } };
    const bought = await admin.POST('/api/v1/org/{org}/credits/checkout', {
      params: { ...org, header: { 'Idempotency-Key': 'client-e2e-1' } },
      body: { ...checkoutBody, quantity: 2 },
    });
    if (!bought.data) throw new Error(JSON.stringify(bought.error));
    expect(bought.data).toMatchObject({ credits: 2000, currency: 'usd', expires_at: expect.any(String) });

    const paid = await s.control('POST', `/sessions/${bought.data.session_id}/pay`, { deliver: false });
    const payload = await payloadOf(s, paid.events[0].id);
    const event = await admin.POST('/api/v1/stripe/webhook', {
      params: { header: { 'Stripe-Signature': sign(payload) } },
      body: JSON.parse(payload),
      // The signature covers Stripe's bytes: send them as they are.
      bodySerializer: () => payload,
    });
    expect(event.data).toEqual({ received: true, outcome: 'processed' });

    const balance = await member.GET('/api/v1/org/{org}/credits', { params: org });
    expect(balance.data?.balance).toBe(2000);
    const ledger = await member.GET('/api/v1/org/{org}/credits/transactions', {
      params: { ...org, query: { limit: 10, transaction_type: ['purchase'] } },
    });
    expect(ledger.data?.data).toEqual([
      expect.objectContaining({ amount: 2000, checkout_session_id: bought.data.session_id }),
    ]);
    expect(ledger.data?.next_cursor).toBeNull();

    expect((await member.GET('/healthz')).data).toEqual({ status: 'ok' });
    expect((await member.GET('/readyz')).response.status).toBe(200);

    expect(takeAnswers()).toEqual([
      ['POST /api/v1/org/{org}/credits/checkout', 200, []],
      ['POST /api/v1/stripe/webhook', 200, []],
      ['GET /api/v1/org/{org}/credits', 200, []],
      ['GET /api/v1/org/{org}/credits/transactions', 200, []],
      ['GET /healthz', 200, []],
      ['GET /readyz', 200, []],
    ]);
  });

  it('holds credits, captures and releases them, each answer as documented', async () => {
    const org = { path: { org: 'holder' } };
    const host = clientFor(await s.member('holder', 'host@holder.test', 'member', SPEND));
    const [{ id: orgId }] = await s.db.select().from(organizations).where(eq(organizations.slug, 'holder'));
    await s.db.transaction((tx) =>
      s.app.get(LedgerService).apply(tx, {
        orgId,
        amount: 500,
        transactionType: 'admin_adjustment',
        description: 'client e2e grant',
        sourceRef: 'test:client-e2e-holds',
      }),
    );
    const hold = (key: string, body: { amount: number; metadata?: Record<string, string> }) =>
      host.POST('/api/v1/org/{org}/credits/holds', { params: { ...org, header: { 'Idempotency-Key': key } }, body });

    const first = (await hold('client-hold-1', { amount: 100, metadata: { job: 'j1' } })).data!;
    expect(first).toMatchObject({ amount: 100, status: 'active', captured_amount: null, metadata: { job: 'j1' } });
    const one = { params: { path: { org: 'holder', id: first.id } } };
    expect((await host.GET('/api/v1/org/{org}/credits/holds/{id}', one)).data?.id).toBe(first.id);
    const captured = (await host.POST('/api/v1/org/{org}/credits/holds/{id}/capture', { ...one, body: { amount: 40 } }))
      .data!;
    expect([captured.hold.captured_amount, captured.transaction.amount]).toEqual([40, -40]);
    const second = (await hold('client-hold-2', { amount: 200 })).data!;
    const two = { params: { path: { org: 'holder', id: second.id } } };
    expect((await host.POST('/api/v1/org/{org}/credits/holds/{id}/release', two)).data?.hold.status).toBe('released');
    const listed = await host.GET('/api/v1/org/{org}/credits/holds', { params: { ...org, query: { limit: 1 } } });
    expect(listed.data?.has_more).toBe(true);
    const failures = [
      await hold('client-hold-3', { amount: 461 }),
      await host.POST('/api/v1/org/{org}/credits/holds/{id}/capture', two),
      await host.POST('/api/v1/org/{org}/credits/holds/{id}/capture', { ...one, body: { amount: 0 } }),
    ];
    expect(failures.map(({ error }) => [error?.code, error?.type])).toEqual([
      [402, 'insufficient_credits_error'],
      [409, 'conflict_error'],
      [422, 'validation_error'],
    ]);
    expect(takeAnswers()).toEqual([
      ['POST /api/v1/org/{org}/credits/holds', 201, []],
      ['GET /api/v1/org/{org}/credits/holds/{id}', 200, []],
      ['POST /api/v1/org/{org}/credits/holds/{id}/capture', 200, []],
      ['POST /api/v1/org/{org}/credits/holds', 201, []],
      ['POST /api/v1/org/{org}/credits/holds/{id}/release', 200, []],
      ['GET /api/v1/org/{org}/credits/holds', 200, []],
      ['POST /api/v1/org/{org}/credits/holds', 402, []],
      ['POST /api/v1/org/{org}/credits/holds/{id}/capture', 409, []],
      ['POST /api/v1/org/{org}/credits/holds/{id}/capture', 422, []],
    ]);
  });

  it('gets every error as the envelope the document declares for that status', async () => {
    const org = { path: { org: 'acme' } };
    const failures = [
      await admin.POST('/api/v1/org/{org}/credits/checkout', { params: org, body: { ...checkoutBody, quantity: 11 } }),
      await admin.POST('/api/v1/org/{org}/credits/checkout', {
        params: org,
        body: checkoutBody,
        bodySerializer: () => '{"success_url":',
      }),
      await clientFor('ck_not_a_key').GET('/api/v1/org/{org}/credits', { params: org }),
      await member.POST('/api/v1/org/{org}/credits/checkout', { params: org, body: checkoutBody }),
      await member.GET('/api/v1/org/{org}/credits', { params: { path: { org: 'no-such-org' } } }),
      await member.GET('/api/v1/org/{org}/credits/transactions', { params: { ...org, query: { limit: 0 } } }),
      await admin.POST('/api/v1/stripe/webhook', {
        params: { header: { 'Stripe-Signature': 't=1,v1=forged' } },
        body: { id: 'evt_forged', type: 'checkout.session.completed', data: {} },
      }),
    ];
    // The same Idempotency-Key with another body.
    const key = { 'Idempotency-Key': 'client-e2e-conflict' };
    await admin.POST('/api/v1/org/{org}/credits/checkout', { params: { ...org, header: key }, body: checkoutBody });
    failures.push(
      await admin.POST('/api/v1/org/{org}/credits/checkout', {
        params: { ...org, header: key },
        body: { ...checkoutBody, quantity: 3 },
      }),
    );

    expect(failures.map(({ error, response }) => [response.status, error?.code, error?.type])).toEqual([
      [422, 422, 'validation_error'],
      [400, 400, 'invalid_request_error'],
      [401, 401, 'authentication_error'],
      [403, 403, 'forbidden_error'],
      [404, 404, 'not_found_error'],
      [422, 422, 'validation_error'],
      [400, 400, 'invalid_signature_error'],
      [409, 409, 'conflict_error'],
    ]);
    expect(failures[0].error?.errors).toEqual([
      expect.objectContaining({ loc: ['body', 'quantity'], type: 'less_than_equal' }),
    ]);
    expect(takeAnswers().filter(([, , problems]) => problems.length > 0)).toEqual([]);
  });
});
