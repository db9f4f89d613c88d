import { connect } from 'node:net';
import { SignJWT } from 'jose';
import { ProbeModule } from '../support/probe.module';
import { startTestApp, TestApp } from '../support/test-app';
import { bearer, TEST_JWT_SECRET } from '../support/auth';
import { until } from '../support/until';

function jwt(sub: string, expiresIn: string | number = '5m') {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

function expectEnvelope(res: { status: number; body: any; headers: Headers }, status: number, type: string) {
  expect(res.status).toBe(status);
  expect(Object.keys(res.body).sort()).toEqual(['code', 'detail', 'errors', 'type']);
  expect(res.body.code).toBe(status);
  expect(res.body.type).toBe(type);
  expect(typeof res.body.detail).toBe('string');
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('x-request-id')).toBeTruthy();
}

describe('foundation: envelope, auth and org access over real HTTP', () => {
  let t: TestApp;
  let adminKey: string;
  let memberKey: string;
  let outsiderKey: string;

  beforeAll(async () => {
    t = await startTestApp({ imports: [ProbeModule] });
    adminKey = await t.member('acme', 'admin@acme.test', 'admin');
    memberKey = await t.member('acme', 'member@acme.test', 'member');
    outsiderKey = await t.member('globex', 'outsider@globex.test', 'owner');
  });
  afterAll(() => t?.close());

  it('serves an authorized request and echoes a sane X-Request-Id', async () => {
    const res = await t.request('POST', '/api/v1/org/acme/probe', {
      headers: { ...bearer(adminKey), 'x-request-id': 'req-123' },
      body: { name: 'abc' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ org: 'acme', user: 'admin@acme.test', body: { name: 'abc', quantity: 1 } });
    expect(res.headers.get('x-request-id')).toBe('req-123');
  });

  it('replaces an unsafe X-Request-Id with a generated one', async () => {
    const res = await t.request('GET', '/healthz', { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('400 json_invalid for malformed JSON', async () => {
    const res = await t.request('POST', '/api/v1/org/acme/probe', {
      headers: { ...bearer(adminKey), 'content-type': 'application/json' },
      raw: '{"name": ',
    });
    expectEnvelope(res, 400, 'invalid_request_error');
    expect(res.body.errors[0].type).toBe('json_invalid');
  });

  it('415 for a body that is not JSON', async () => {
    const res = await t.request('POST', '/api/v1/org/acme/probe', {
      headers: { ...bearer(adminKey), 'content-type': 'text/plain' },
      raw: 'name=abc',
    });
    expectEnvelope(res, 415, 'unsupported_media_type_error');
    const form = await t.request('POST', '/api/v1/org/acme/probe', {
      headers: { ...bearer(adminKey), 'content-type': 'application/x-www-form-urlencoded' },
      raw: 'name=abc',
    });
    expectEnvelope(form, 415, 'unsupported_media_type_error');
  });

  it('413 for a body over 64 KiB', async () => {
    const res = await t.request('POST', '/api/v1/org/acme/probe', {
      headers: bearer(adminKey),
      body: { name: 'x'.repeat(70 * 1024) },
    });
    expectEnvelope(res, 413, 'payload_too_large_error');
  });

  it('413 for a body over 64 KiB on an unknown route too: only the webhook takes more', async () => {
    // The not-found handler is no route the per-route limits reach: the server-wide limit is the small one.
    const res = await t.request('POST', '/no/such/route', { body: { name: 'x'.repeat(500 * 1024) } });
    expectEnvelope(res, 413, 'payload_too_large_error');
  });

  it('413 that a client still sending can read (Node fetch sends the whole body before it reads)', async () => {
    // Far more than the socket buffers hold (within the drain bound, BODY_DRAIN_BYTES): the
    // server reads the rest before it answers, so the client is done writing when it reads.
    const huge = JSON.stringify({ name: 'x'.repeat(12 * 1024 * 1024) });
    for (const path of ['/api/v1/org/acme/probe', '/no/such/route']) {
      const res = await t.request('POST', path, {
        headers: { ...bearer(adminKey), 'content-type': 'application/json' },
        raw: huge,
      });
      expectEnvelope(res, 413, 'payload_too_large_error');
    }
    // Chunked, with no Content-Length to refuse it by: the limit is met while reading.
    const chunks = (async function* () {
      for (let i = 0; i < 24; i++) yield new TextEncoder().encode('x'.repeat(512 * 1024));
    })();
    const streamed = await fetch(`${t.url}/api/v1/org/acme/probe`, {
      method: 'POST',
      headers: { ...bearer(adminKey), 'content-type': 'application/json' },
      body: ReadableStream.from(chunks),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { type: string }).type).toBe('payload_too_large_error');
  });

  /**
   * Sends a head declaring `length` bytes, then the body in 1 MiB writes until it is all sent,
   * the server closes the connection, or `cap` bytes went out; returns what was sent and read.
   */
  async function streamBody(path: string, contentType: string, length: number, cap = 256 * 1024 * 1024) {
    const { hostname, port } = new URL(t.url);
    const socket = connect(Number(port), hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${adminKey}\r\n` +
        `Content-Type: ${contentType}\r\nContent-Length: ${length}\r\n\r\n`,
    );
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined); // the reset that ends the sending, when the server closes first
    let open = true;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve())).then(() => {
      open = false;
    });
    let sent = 0;
    while (open && sent < Math.min(length, cap)) {
      const chunk = Buffer.alloc(Math.min(1024 * 1024, length - sent), 0x20);
      if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once('drain', r)), closed]);
      if (open) sent += chunk.length;
    }
    if (sent === length) socket.end();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
    socket.destroy();
    return { sent, answer };
  }

  it('413 after reading the rest of the body (within the drain bound): a client still sending reads it', async () => {
    const length = 8 * 1024 * 1024;
    const { sent, answer } = await streamBody('/api/v1/org/acme/probe', 'application/json', length);
    expect(sent).toBe(length);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"type":"payload_too_large_error"');
  });

  it('stops reading past the drain bound: 413 or an early answer, then the connection closes', async () => {
    const forever = 1024 ** 4;
    for (const [path, contentType, status] of [
      ['/api/v1/org/acme/probe', 'application/json', 413],
      // Answered without reading the body at all (no parser for the type; no such route).
      ['/api/v1/org/acme/probe', 'text/plain', 413],
      ['/api/v1/org/acme/credits', 'text/plain', 413],
    ] as const) {
      const { sent, answer } = await streamBody(path, contentType, forever);
      expect(answer.split('\r\n')[0]).toBe(`HTTP/1.1 ${status} Payload Too Large`);
      expect(answer.toLowerCase()).toContain('connection: close');
      expect(sent).toBeLessThan(64 * 1024 * 1024);
    }
    // Within the bound, an early answer reads the rest and throws it away, no more.
    const { sent, answer } = await streamBody('/api/v1/org/acme/probe', 'text/plain', 4 * 1024 * 1024);
    expect(sent).toBe(4 * 1024 * 1024);
    expect(answer).toMatch(/^HTTP\/1\.1 415 /);
  });

  it('422 lists every failing field with loc and pydantic types', async () => {
    const res = await t.request('POST', '/api/v1/org/acme/probe', {
      headers: bearer(adminKey),
      body: { quantity: '5', extra: true },
    });
    expectEnvelope(res, 422, 'validation_error');
    expect(res.body.detail).toBe('Request validation failed');
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { loc: ['body', 'name'], msg: 'Field required', type: 'missing' },
        { loc: ['body', 'quantity'], msg: 'Input should be a valid integer', type: 'int_type' },
        { loc: ['body', 'extra'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' },
      ]),
    );
    expect(res.body.errors).toHaveLength(3);

    const bounds = await t.request('POST', '/api/v1/org/acme/probe', {
      headers: bearer(adminKey),
      body: { name: 'toolong', quantity: 11 },
    });
    expect(bounds.body.errors).toEqual([
      { loc: ['body', 'name'], msg: 'String should have at most 5 characters', type: 'string_too_long' },
      { loc: ['body', 'quantity'], msg: 'Input should be less than or equal to 10', type: 'less_than_equal' },
    ]);

    const notObject = await t.request('POST', '/api/v1/org/acme/probe', { headers: bearer(adminKey), body: [1, 2] });
    expectEnvelope(notObject, 422, 'validation_error');
    expect(notObject.body.errors[0].loc).toEqual(['body']);
  });

  describe('401', () => {
    it('missing credentials', async () => {
      const res = await t.request('GET', '/api/v1/org/acme/probe');
      expectEnvelope(res, 401, 'authentication_error');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

    it('malformed header', async () => {
      const res = await t.request('GET', '/api/v1/org/acme/probe', { headers: { authorization: `Token ${adminKey}` } });
      expectEnvelope(res, 401, 'authentication_error');
    });

    it('unknown API key', async () => {
      const forged = adminKey.slice(0, -4) + 'AAAA';
      const res = await t.request('GET', '/api/v1/org/acme/probe', { headers: bearer(forged) });
      expectEnvelope(res, 401, 'authentication_error');
    });

    it('revoked API key', async () => {
      const key = await t.member('acme', 'revoked@acme.test', 'admin');
      expect((await t.request('GET', '/api/v1/org/acme/probe', { headers: bearer(key) })).status).toBe(200);
      await t.admin.revokeApiKey(key.split('_').slice(0, 2).join('_'));
      // The credential cache hears of it through NOTIFY: on PostgreSQL a moment after the commit.
      const res = await until('the revocation to reach the instance', async () => {
        const answer = await t.request('GET', '/api/v1/org/acme/probe', { headers: bearer(key) });
        return answer.status === 200 ? undefined : answer;
      });
      expectEnvelope(res, 401, 'authentication_error');
    });

    it('expired API key', async () => {
      const { key } = await t.admin.createApiKey('member@acme.test', 'short', 1);
      await new Promise((r) => setTimeout(r, 10));
      const res = await t.request('GET', '/api/v1/org/acme/probe', { headers: bearer(key) });
      expectEnvelope(res, 401, 'expired_token_error');
    });

    it('JWT: valid by email or id, expired, bad signature', async () => {
      const ok = await t.request('GET', '/api/v1/org/acme/probe', { headers: bearer(await jwt('member@acme.test')) });
      expect(ok.body).toEqual({ org: 'acme', role: 'member' });
      const expired = await t.request('GET', '/api/v1/org/acme/probe', {
        headers: bearer(await jwt('member@acme.test', Math.floor(Date.now() / 1000) - 3600)),
      });
      expectEnvelope(expired, 401, 'expired_token_error');
      const token = await jwt('member@acme.test');
      const tampered = await t.request('GET', '/api/v1/org/acme/probe', {
        headers: bearer(token.slice(0, -3) + 'abc'),
      });
      expectEnvelope(tampered, 401, 'authentication_error');
      const unknownUser = await t.request('GET', '/api/v1/org/acme/probe', {
        headers: bearer(await jwt('nobody@acme.test')),
      });
      expectEnvelope(unknownUser, 401, 'authentication_error');
      // Validly signed but without an expiry: it would never expire, so it is refused.
      const forever = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('member@acme.test')
        .setIssuedAt()
        .sign(new TextEncoder().encode(TEST_JWT_SECRET));
      expectEnvelope(
        await t.request('GET', '/api/v1/org/acme/probe', { headers: bearer(forever) }),
        401,
        'authentication_error',
      );
    });
  });

  it('403 for a member on an admin route', async () => {
    const res = await t.request('POST', '/api/v1/org/acme/probe', { headers: bearer(memberKey), body: { name: 'a' } });
    expectEnvelope(res, 403, 'forbidden_error');
  });

  it('404: unknown route, unknown org and non-member org answer byte-identical bodies', async () => {
    const unknownRoute = await t.request('GET', '/api/v1/nope', { headers: bearer(adminKey) });
    expectEnvelope(unknownRoute, 404, 'not_found_error');
    const unknownOrg = await t.request('GET', '/api/v1/org/does-not-exist/probe', { headers: bearer(outsiderKey) });
    const nonMember = await t.request('GET', '/api/v1/org/acme/probe', { headers: bearer(outsiderKey) });
    expectEnvelope(unknownOrg, 404, 'not_found_error');
    expect(nonMember.text).toBe(unknownOrg.text);
    const invalidSlug = await t.request('GET', '/api/v1/org/NOT_A_SLUG/probe', { headers: bearer(outsiderKey) });
    expect(invalidSlug.text).toBe(unknownOrg.text);
  });

  it('500 from a route that throws: generic detail, cause logged with the request id', async () => {
    const res = await t.request('GET', '/api/v1/org/acme/probe/boom', {
      headers: { ...bearer(memberKey), 'x-request-id': 'boom-1' },
    });
    expectEnvelope(res, 500, 'internal_error');
    expect(res.body.detail).toBe('Internal server error');
    expect(res.text).not.toMatch(/SELECT|kaboom|at /);
    const line = t.logs.find((l) => l.includes('kaboom'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!).request_id).toBe('boom-1');
  });

  it('keeps the request id on lines logged after a JSON body is parsed', async () => {
    const res = await t.request('POST', '/api/v1/org/acme/probe/boom', {
      headers: { ...bearer(adminKey), 'x-request-id': 'boom-body-1' },
      body: { name: 'a' },
    });
    expectEnvelope(res, 500, 'internal_error');
    const failure = t.logs
      .map((line) => JSON.parse(line))
      .find((line) => line.msg === 'request failed' && line.request_id === 'boom-body-1');
    expect(failure).toMatchObject({ org: 'acme', user_id: expect.any(String) });
    expect(JSON.stringify(failure)).toContain('kaboom after the body');
  });

  it('logs a refused request at debug, with its request id (the test app logs at debug)', async () => {
    const res = await t.request('GET', '/api/v1/org/acme/probe', {
      headers: { ...bearer(adminKey + 'x'), 'x-request-id': 'refused-1' },
    });
    expectEnvelope(res, 401, 'authentication_error');
    const line = t.logs
      .map((l) => JSON.parse(l))
      .find((l) => l.request_id === 'refused-1' && l.msg === 'request rejected');
    expect(line).toMatchObject({ level: 'debug', status: 401, type: 'authentication_error' });
  });

  it('health and readiness', async () => {
    expect((await t.request('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await t.request('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.database).toBe('ok');
  });

  it('never writes an API key or a JWT to the logs', async () => {
    const token = await jwt('member@acme.test');
    await t.request('GET', '/api/v1/org/acme/probe', { headers: bearer(token) });
    await t.request('GET', '/api/v1/org/acme/probe/boom', { headers: bearer(adminKey) });
    await t.request('GET', '/api/v1/org/acme/probe', { headers: bearer(adminKey + 'x') });
    const all = t.logs.join('\n');
    expect(t.logs.length).toBeGreaterThan(5);
    for (const secret of [adminKey, memberKey, outsiderKey, token, TEST_JWT_SECRET]) expect(all).not.toContain(secret);
    expect(all).toMatch(/"route":"\/api\/v1\/org\/:org\/probe"/);
  });

  it('writes every log line as valid JSON, secrets scrubbed or not', () => {
    expect(
      t.logs.filter((line) => {
        try {
          JSON.parse(line);
          return false;
        } catch {
          return true;
        }
      }),
    ).toEqual([]);
  });

  it('names the org and the user in the access line and in every line logged while serving', async () => {
    await t.request('GET', '/api/v1/org/acme/probe/boom', {
      headers: bearer(memberKey, { 'x-request-id': 'who-1' }),
    });
    const lines = t.logs.map((line) => JSON.parse(line)).filter((line) => line.request_id === 'who-1');
    const access = lines.find((line) => line.msg === 'request completed');
    const failure = lines.find((line) => line.msg === 'request failed');
    for (const line of [access, failure]) expect(line).toMatchObject({ org: 'acme', user_id: expect.any(String) });
    expect(access).toMatchObject({ method: 'GET', status: 500, route: '/api/v1/org/:org/probe/boom' });
  });
});
