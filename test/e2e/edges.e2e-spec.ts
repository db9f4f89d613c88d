import { gzipSync } from 'node:zlib';
import { RawRequest, RawResponse, sendRaw, sendRequest } from '../support/raw-http';
import { startStack, Stack } from '../support/stack';

/**
 * Answers that come from below the routes — Node's HTTP parser, Fastify's router, the body
 * parser — are the envelope like any other, over a real socket: some of these requests
 * never reach Fastify, and no HTTP client library would send them.
 */

const CHECKOUT = '/api/v1/org/acme/credits/checkout';
const BALANCE = '/api/v1/org/acme/credits';
const SUCCESS = 'http://localhost:3000/billing/success?session_id={CHECKOUT_SESSION_ID}';
const CANCEL = 'http://localhost:3000/billing/cancel';
const VALID_BODY = JSON.stringify({ success_url: SUCCESS, cancel_url: CANCEL });

function expectEnvelope(res: RawResponse, status: number, type: string): void {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: { code: status, detail: expect.any(String), errors: res.body?.errors ?? null, type },
  });
  expect(Object.keys(res.body).sort()).toEqual(['code', 'detail', 'errors', 'type']);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['x-request-id']).toBeTruthy();
}

describe('the error envelope on every edge (real sockets)', () => {
  let s: Stack;
  let key: string;
  const send = (request: RawRequest) => sendRequest(s.url, request);
  const authorized = (headers: [string, string][] = []): [string, string][] => [
    ['Authorization', `Bearer ${key}`],
    ...headers,
  ];
  const checkout = (headers: [string, string][], body: string | Buffer) =>
    send({ method: 'POST', target: CHECKOUT, headers: authorized(headers), body });
  const sessionsCreated = async () => (await s.stripeRequests('/v1/checkout/sessions')).length;

  beforeAll(async () => {
    s = await startStack();
    key = await s.member('acme', 'admin@acme.test', 'admin');
  });
  afterAll(() => s?.close());

  describe('the request target: Fastify’s router answered these in its own words', () => {
    it('414 for a path parameter or a query over the URL limit', async () => {
      const longParam = await send({ method: 'GET', target: `/api/v1/org/${'a'.repeat(9000)}/credits` });
      expectEnvelope(longParam, 414, 'uri_too_long_error');
      const longQuery = await send({
        method: 'GET',
        target: `/api/v1/org/acme/credits/transactions?cursor=${'a'.repeat(9000)}`,
        headers: authorized(),
      });
      expectEnvelope(longQuery, 414, 'uri_too_long_error');
    });

    it('400 for percent-encoding that does not decode, in the path or the query', async () => {
      for (const target of [
        '/api/v1/org/%zz/credits',
        '/api/v1/org/acme/credits/%E0%A4%A',
        '/docs/%zz',
        '/api/v1/org/acme/credits/transactions?limit=%zz',
        '/api/v1/org/acme/credits/transactions?%ff=1',
      ]) {
        const res = await send({ method: 'GET', target, headers: authorized() });
        expectEnvelope(res, 400, 'invalid_request_error');
      }
    });

    it('400 for a NUL (%00) anywhere in the target: PostgreSQL cannot store it and answered 500', async () => {
      for (const target of [
        '/api/v1/org/acme/credits/checkout/%00',
        '/api/v1/org/acme/credits/checkout/cs_test_%00',
        '/api/v1/org/ac%00me/credits',
        '/api/v1/org/acme/credits/transactions?cursor=%00',
      ]) {
        const res = await send({ method: 'GET', target, headers: authorized() });
        expectEnvelope(res, 400, 'invalid_request_error');
      }
    });

    it('answers them as ordinary answers: security headers and the request id', async () => {
      const res = await send({
        method: 'GET',
        target: '/api/v1/org/%zz/credits',
        headers: [['X-Request-Id', 'edge-1']],
      });
      expect(res.headers['x-request-id']).toBe('edge-1');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    });
  });

  describe("Node's HTTP layer: its parser and its own replies", () => {
    it('400 for a request its parser refuses', async () => {
      const head: [string, string][] = [
        ['Host', '127.0.0.1'],
        ['Connection', 'close'],
      ];
      const requests: RawRequest[] = [
        { method: 'POST', target: CHECKOUT, headers: [...head, ['Content-Length', 'abc']], body: '{}', bare: true },
        {
          method: 'POST',
          target: CHECKOUT,
          headers: [...head, ['Content-Length', '2'], ['Transfer-Encoding', 'chunked']],
          body: '2\r\n{}\r\n0\r\n\r\n',
          bare: true,
        },
        { method: 'FOO', target: BALANCE },
        { method: 'GET', target: BALANCE, headers: [['X-Bad', 'a\u0001b']] },
        { method: 'GET', target: '/healthz?a b' },
      ];
      for (const request of requests) expectEnvelope(await send(request), 400, 'invalid_request_error');
      expectEnvelope(await sendRaw(s.url, 'hello\r\n\r\n'), 400, 'invalid_request_error');
    });

    it('431 for a head over its limit', async () => {
      const res = await send({ method: 'GET', target: '/healthz', headers: [['X-Big', 'a'.repeat(20_000)]] });
      expectEnvelope(res, 431, 'headers_too_large_error');
      expectEnvelope(
        await send({ method: 'GET', target: `/healthz?${'a'.repeat(20_000)}` }),
        431,
        'headers_too_large_error',
      );
    });

    it('400 for an HTTP/1.1 request without exactly one Host', async () => {
      const noHost = await send({ method: 'GET', target: '/healthz', headers: [['Connection', 'close']], bare: true });
      expectEnvelope(noHost, 400, 'invalid_request_error');
      const twoHosts = await send({ method: 'GET', target: '/healthz', headers: [['Host', 'evil.example']] });
      expectEnvelope(twoHosts, 400, 'invalid_request_error');
    });

    it('400 for CONNECT; an unknown Expect is ignored rather than answered 417 without a body', async () => {
      const connect = await send({
        method: 'CONNECT',
        target: 'example.com:443',
        bare: true,
        headers: [['Host', 'x']],
      });
      expectEnvelope(connect, 400, 'invalid_request_error');
      const expectation = await send({ method: 'GET', target: '/healthz', headers: [['Expect', 'teapot']] });
      expect(expectation.status).toBe(200);
    });
  });

  describe('JSON nesting: a body nested too deep was a 500 (the validators overflowed the stack)', () => {
    const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

    it('400 json_too_deep past 32 levels, on every route that takes a body', async () => {
      const before = await sessionsCreated();
      for (const body of [deepObject(10_000), '['.repeat(20_000) + ']'.repeat(20_000), deepObject(33)]) {
        const res = await checkout([['Content-Type', 'application/json']], body);
        expectEnvelope(res, 400, 'invalid_request_error');
        expect(res.body.errors).toEqual([{ loc: ['body'], msg: expect.any(String), type: 'json_too_deep' }]);
      }
      const webhook = await send({
        method: 'POST',
        target: '/api/v1/stripe/webhook',
        headers: [
          ['Content-Type', 'application/json'],
          ['Stripe-Signature', 't=1,v1=00'],
        ],
        body: deepObject(10_000),
      });
      expectEnvelope(webhook, 400, 'invalid_request_error');
      expect(await sessionsCreated()).toBe(before);
    });

    it('reads 32 levels, and brackets inside strings do not count', async () => {
      const res = await checkout([['Content-Type', 'application/json']], deepObject(32));
      expectEnvelope(res, 422, 'validation_error');
      const brackets = JSON.stringify({ success_url: SUCCESS, cancel_url: CANCEL, note: '{['.repeat(100) });
      const strings = await checkout([['Content-Type', 'application/json']], brackets);
      expectEnvelope(strings, 422, 'validation_error');
      expect(strings.body.errors).toEqual([
        expect.objectContaining({ loc: ['body', 'note'], type: 'extra_forbidden' }),
      ]);
    });
  });

  describe('a NUL in a JSON string cannot be stored: it is refused before any route sees it', () => {
    it('422 string_unstorable naming the field, nothing reaches Stripe; an escaped backslash is no NUL', async () => {
      const before = await sessionsCreated();
      const nul = JSON.stringify({ success_url: SUCCESS, cancel_url: CANCEL, note: ['x', 'a\u0000b'] });
      const res = await checkout([['Content-Type', 'application/json']], nul);
      expectEnvelope(res, 422, 'validation_error');
      expect(res.body.errors).toEqual([
        expect.objectContaining({ loc: ['body', 'note', 1], type: 'string_unstorable' }),
      ]);
      const url = JSON.stringify({ success_url: `${SUCCESS}\u0000`, cancel_url: CANCEL });
      const inUrl = await checkout([['Content-Type', 'application/json']], url);
      expect(inUrl.body.errors).toEqual([
        expect.objectContaining({ loc: ['body', 'success_url'], type: 'string_unstorable' }),
      ]);
      const lookalike = JSON.stringify({ success_url: SUCCESS, cancel_url: CANCEL, note: '\\u0000' });
      expect(lookalike).toContain('\\\\u0000');
      const notNul = await checkout([['Content-Type', 'application/json']], lookalike);
      expectEnvelope(notNul, 422, 'validation_error');
      expect(await sessionsCreated()).toBe(before);
    });
  });

  describe('the body is JSON as sent, or 415: a Content-Encoding was read as plain text or as bad JSON', () => {
    it('415 for a Content-Encoding it does not decode, compressed or not, and nothing reaches Stripe', async () => {
      const before = await sessionsCreated();
      const cases: [string, string | Buffer][] = [
        ['gzip', VALID_BODY],
        ['gzip', gzipSync(VALID_BODY)],
        ['br', Buffer.from([1, 2, 3, 4, 5])],
        ['deflate, identity', VALID_BODY],
      ];
      for (const [encoding, body] of cases) {
        const res = await checkout(
          [
            ['Content-Type', 'application/json'],
            ['Content-Encoding', encoding],
          ],
          body,
        );
        expectEnvelope(res, 415, 'unsupported_media_type_error');
      }
      expect(await sessionsCreated()).toBe(before);
    });

    it('415 for another charset, malformed parameters or two Content-Types', async () => {
      const before = await sessionsCreated();
      const contentTypes: [string, string][][] = [
        [['Content-Type', 'application/json; charset=latin1']],
        [['Content-Type', 'application/json;;;=']],
        [['Content-Type', 'application/json; charset']],
        [
          ['Content-Type', 'application/json'],
          ['Content-Type', 'text/plain'],
        ],
      ];
      for (const headers of contentTypes) {
        expectEnvelope(await checkout(headers, VALID_BODY), 415, 'unsupported_media_type_error');
      }
      expect(await sessionsCreated()).toBe(before);
    });

    it('400 json_invalid for bytes that are not UTF-8', async () => {
      const body = Buffer.concat([
        Buffer.from('{"success_url":"http://localhost/'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}'),
      ]);
      const res = await checkout([['Content-Type', 'application/json']], body);
      expectEnvelope(res, 400, 'invalid_request_error');
      expect(res.body.errors[0].type).toBe('json_invalid');
    });

    it('serves identity, charset=utf-8 and a quoted charset', async () => {
      for (const headers of [
        [
          ['Content-Type', 'application/json'],
          ['Content-Encoding', 'identity'],
        ],
        [['Content-Type', 'application/json; charset=UTF-8']],
        [['Content-Type', 'application/json;charset="utf-8"']],
      ] as [string, string][][]) {
        const res = await checkout(headers, VALID_BODY);
        expect(res.status).toBe(200);
        expect(res.body.session_id).toMatch(/^cs_test_/);
      }
    });
  });

  describe('redirect URLs are checked as sent: the URL parser dropped whitespace and controls in silence', () => {
    it.each([
      ['a tab inside the host', 'http://local\thost:3000/billing/success'],
      ['a newline inside the path', 'http://localhost:3000/bill\ning/success'],
      ['a carriage return', 'http://localhost:3000/billing/\rsuccess'],
      ['a leading space', ' http://localhost:3000/billing/success'],
      ['a trailing newline', 'http://localhost:3000/billing/success\n'],
      ['a space in the path', 'http://localhost:3000/billing/su ccess'],
      ['a DEL', 'http://localhost:3000/\u007fbilling'],
      ['a no-break space', 'http://localhost:3000/\u00a0billing'],
      ['a backslash read as a slash', 'http://localhost:3000\\@evil.example/'],
    ])('422 url_parsing for %s, and no session', async (_name, url) => {
      const before = await sessionsCreated();
      for (const body of [
        { success_url: url, cancel_url: CANCEL },
        { success_url: SUCCESS, cancel_url: url },
      ]) {
        const res = await checkout([['Content-Type', 'application/json']], JSON.stringify(body));
        expectEnvelope(res, 422, 'validation_error');
        const field = body.success_url === url ? 'success_url' : 'cancel_url';
        expect(res.body.errors).toEqual([{ loc: ['body', field], msg: expect.any(String), type: 'url_parsing' }]);
      }
      expect(await sessionsCreated()).toBe(before);
    });
  });
});
