import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { ERROR_CATALOG } from '@credits/errors';
import { startTestApp, TestApp } from '../support/test-app';

/** PUBLIC_URL of the app under test, as a deployment sets it. */
const DEPLOYED_URL = 'https://credits.example.com';
const ERROR_STATUSES = ['400', '401', '403', '404', '409', '422', '426', '429', '500', '502', '504'];
/** The published contract's response descriptions. */
const DESCRIPTIONS: Record<string, string> = {
  '200': 'Successful Response',
  '400': 'Invalid request',
  '401': 'Authentication failed',
  '403': 'Access forbidden',
  '404': 'Not found',
  '409': 'Already exists',
  '422': 'Validation error',
  '426': 'Upgrade required',
  '429': 'Rate limited',
  '500': 'Internal server error',
  '502': 'Bad gateway',
  '504': 'Gateway timeout',
};

describe('the OpenAPI document', () => {
  let t: TestApp;
  let doc: any;

  beforeAll(async () => {
    t = await startTestApp({ env: { PUBLIC_URL: `${DEPLOYED_URL}/` } });
    doc = (await t.request('GET', '/docs-json')).body;
  });
  afterAll(() => t?.close());

  it('is valid OpenAPI, and openapi.json in the repo is exactly what the app serves (npm run openapi)', async () => {
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeDefined();
    const committed = JSON.parse(readFileSync(join(__dirname, '../../openapi.json'), 'utf8'));
    // All but the server, which is this deployment's; the committed one is the default of `npm start`.
    expect({ ...doc, servers: committed.servers }).toEqual(committed);
    expect(committed.servers).toEqual([{ url: 'http://127.0.0.1:3000', description: expect.any(String) }]);
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await t.request('GET', '/docs');
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger-ui');
  });

  it('declares the envelope once and uses it for every error response', () => {
    expect(doc.components.schemas.APIErrorPayload).toMatchObject({
      description: 'Canonical API error envelope returned by the API.',
      required: ['code', 'detail', 'errors', 'type'],
    });
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        for (const [status, response] of Object.entries<any>(op.responses)) {
          if (Number(status) < 400) continue;
          const content = response.content['application/json'];
          expect([path, method, status, content.schema.$ref]).toEqual([
            path,
            method,
            status,
            '#/components/schemas/APIErrorPayload',
          ]);
          const examples = Object.values<any>(content.examples);
          expect(examples.length).toBeGreaterThan(0);
          for (const example of examples) expect(example.value.code).toBe(Number(status));
        }
      }
    }
  });

  it('documents create_checkout_session as published', () => {
    const op = doc.paths['/api/v1/org/{org}/credits/checkout'].post;
    expect(op).toMatchObject({
      operationId: 'create_checkout_session',
      summary: 'Create checkout session',
      description: 'Create a Stripe Checkout session to purchase credits',
      security: [{ bearer: ['credits:purchase'] }],
    });
    for (const status of ['200', ...ERROR_STATUSES]) {
      expect([status, op.responses[status]?.description]).toEqual([status, DESCRIPTIONS[status]]);
    }
    expect(op.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'org', in: 'path', required: true, description: 'Organization slug' }),
        expect.objectContaining({
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          schema: expect.objectContaining({ maxLength: 255 }),
        }),
      ]),
    );

    const request = doc.components.schemas.CreateCheckoutSessionRequest;
    expect(op.requestBody.content['application/json'].schema.$ref).toBe(
      '#/components/schemas/CreateCheckoutSessionRequest',
    );
    expect(request.description).toBe('Request schema for creating a Stripe Checkout session.');
    expect(request.required.sort()).toEqual(['cancel_url', 'success_url']);
    expect(request.properties.quantity).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 10,
      default: 1,
      description: 'Quantity of credit bundles to purchase (1-10)',
    });
    expect(request.properties.success_url.description).toBe('Redirect URL after successful purchase');
    // Stripe's placeholder has braces, which no `format: uri` admits: a pattern states the rule instead.
    const successUrl = new RegExp(request.properties.success_url.pattern);
    expect(request.properties.success_url.format).toBeUndefined();
    expect(successUrl.test('https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}')).toBe(true);
    expect(successUrl.test('app.example.com/done')).toBe(false);
    expect(request.properties.cancel_url.description).toBe('Redirect URL after canceling');

    const response = doc.components.schemas.CheckoutSessionResponse;
    expect(op.responses['200'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/CheckoutSessionResponse',
    );
    expect(response.description).toBe('Response schema for a Stripe Checkout session.');
    expect(response.required.sort()).toEqual(['checkout_url', 'session_id']);
    expect(response.properties.checkout_url.description).toBe('Stripe Checkout URL');
    expect(response.properties.session_id.description).toBe('Stripe Checkout session ID');
  });

  it('documents the balance, the ledger and the webhook with their schemas and errors', () => {
    const balance = doc.paths['/api/v1/org/{org}/credits'].get;
    expect(balance.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/CreditBalance');
    const ledger = doc.paths['/api/v1/org/{org}/credits/transactions'].get;
    expect(ledger.responses['200'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/CreditTransactionPage',
    );
    expect(ledger.parameters.map((p: any) => p.name)).toEqual(
      expect.arrayContaining(['limit', 'cursor', 'transaction_type']),
    );
    for (const op of [balance, ledger]) {
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403', '404', '429', '500']));
    }
    expect(Object.keys(ledger.responses)).toContain('422');
    const webhook = doc.paths['/api/v1/stripe/webhook'].post;
    expect(webhook.operationId).toBe('receive_stripe_event');
    // Authenticated by its Stripe-Signature header, not by bearer credentials.
    expect(webhook.security).toEqual([]);
    expect(webhook.parameters).toEqual([expect.objectContaining({ name: 'Stripe-Signature', required: true })]);
    // Declared by the route and by its access rule: both examples kept.
    expect(Object.keys(webhook.responses['400'].content['application/json'].examples).sort()).toEqual([
      'invalid_request_error',
      'invalid_signature_error',
    ]);
    expect(Object.keys(webhook.responses)).toEqual(expect.arrayContaining(['200', '400', '500']));
  });

  it('documents the organization and its members with typed schemas', () => {
    const org = doc.paths['/api/v1/org/{org}'].get;
    const members = doc.paths['/api/v1/org/{org}/members'].get;
    expect(org).toMatchObject({ operationId: 'get_organization', security: [{ bearer: ['org:read'] }] });
    expect(members).toMatchObject({ operationId: 'list_organization_members', security: [{ bearer: ['org:read'] }] });
    expect(org.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/Organization');
    expect(members.responses['200'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/OrganizationMemberPage',
    );
    expect(members.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(['limit', 'cursor']));
    expect(Object.keys(members.responses)).toEqual(expect.arrayContaining(['401', '403', '404', '422', '429', '500']));

    const { Organization, OrganizationMember, OrganizationMemberPage } = doc.components.schemas;
    expect(Organization.required.sort()).toEqual(['created_at', 'id', 'name', 'role', 'slug']);
    expect(OrganizationMember.required.sort()).toEqual(['created_at', 'email', 'role', 'user_id']);
    for (const schema of [Organization, OrganizationMember]) {
      expect(schema.properties.created_at).toMatchObject({ type: 'string', format: 'date-time' });
      expect(schema.properties.role).toMatchObject({ type: 'string', enum: ['member', 'admin', 'owner'] });
      for (const property of Object.values<any>(schema.properties)) {
        expect(property).toEqual(
          expect.objectContaining({ description: expect.any(String), example: expect.anything() }),
        );
      }
    }
    expect(OrganizationMemberPage.properties.next_cursor).toMatchObject({ type: 'string', nullable: true });
  });

  it('says which operations need no credentials (security: []) and which need a bearer token with which scope', () => {
    const security = Object.fromEntries(
      Object.entries<any>(doc.paths).flatMap(([path, item]) =>
        Object.entries<any>(item).map(([method, op]) => [`${method} ${path}`, op.security]),
      ),
    );
    expect(security).toMatchObject({
      'get /healthz': [],
      'get /readyz': [],
      'post /api/v1/stripe/webhook': [],
      'post /api/v1/org/{org}/credits/checkout': [{ bearer: ['credits:purchase'] }],
      'get /api/v1/org/{org}/credits': [{ bearer: ['credits:read'] }],
      'get /api/v1/org/{org}/credits/transactions': [{ bearer: ['credits:read'] }],
      'get /api/v1/org/{org}/credits/checkout/{session_id}': [{ bearer: ['credits:read'] }],
    });
    for (const [operation, requirement] of Object.entries(security)) {
      expect([operation, Array.isArray(requirement)]).toEqual([operation, true]);
    }
  });

  it('types the envelope: code an integer, type one of the catalog', () => {
    const { code, type } = doc.components.schemas.APIErrorPayload.properties;
    expect(code).toMatchObject({ type: 'integer', minimum: 400, maximum: 599 });
    expect(type.allOf).toEqual([{ $ref: '#/components/schemas/APIErrorType' }]);
    expect(doc.components.schemas.APIErrorType).toMatchObject({ type: 'string', enum: Object.keys(ERROR_CATALOG) });
  });

  it('names a licence, and the server at the configured public URL', () => {
    expect(doc.info.license).toEqual({ name: 'Proprietary' });
    expect(doc.servers.map((server: any) => server.url)).toEqual([DEPLOYED_URL]);
  });

  it('lists 503 on every API operation: any of them can meet an unreachable database or pass its deadline', () => {
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      if (!path.startsWith('/api/')) continue;
      for (const [method, op] of Object.entries<any>(item)) {
        expect([method, path, op.responses['503']?.content['application/json'].examples]).toEqual([
          method,
          path,
          {
            service_unavailable_error: expect.objectContaining({
              value: expect.objectContaining({ code: 503, type: 'service_unavailable_error' }),
            }),
          },
        ]);
      }
    }
  });
});
