import { eq } from 'drizzle-orm';
import { apiKeys } from '@credits/database';
import { startTestApp, TestApp } from '../support/test-app';
import { bearer } from '../support/auth';

/**
 * Rate limits count callers after authentication; a caller that never authenticates is
 * limited by its failed attempts instead, before any credential lookup: per address for
 * guesses, per credential for one we recognise and refuse.
 */
describe('failed authentications per client address', () => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { RATE_LIMIT_AUTH_FAILURES: '3', RATE_LIMIT_WINDOW_MS: '60000' } });
    key = await t.member('acme', 'admin@acme.test', 'admin');
  });
  afterAll(() => t?.close());

  const balance = (token: string) => t.request('GET', '/api/v1/org/acme/credits', { headers: bearer(token) });

  it('answers 401 up to the limit, then 429 with Retry-After for the rest of the window', async () => {
    expect((await balance(key)).status).toBe(200);
    const forged = key.slice(0, -6) + 'AAAAAA';
    for (let i = 0; i < 3; i++) expect((await balance(forged)).status).toBe(401);

    const blocked = await balance(forged);
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatchObject({ code: 429, type: 'rate_limit_error', errors: null });
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // The address is blocked before any credential is looked at, whatever it sends.
    expect((await balance(key)).status).toBe(429);
    expect(t.logs.some((line) => line.includes('too many failed authentications'))).toBe(true);
  });

  it('counts a revoked key against itself: the other workers behind the same address keep working', async () => {
    const other = await startTestApp({ env: { RATE_LIMIT_AUTH_FAILURES: '3', RATE_LIMIT_WINDOW_MS: '60000' } });
    try {
      const working = await other.serviceKey('sandbox-runner', ['credits:read']);
      const stale = await other.serviceKey('sandbox-runner-old', ['credits:read']);
      await other.db
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(eq(apiKeys.prefix, stale.split('_').slice(0, 2).join('_')));
      const read = (token: string) => other.request('GET', '/api/v1/org/acme/credits', { headers: bearer(token) });
      await other.member('acme', 'owner@acme.test', 'owner');

      for (let i = 0; i < 3; i++) expect((await read(stale)).status).toBe(401);
      const blocked = await read(stale);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      // Same address (127.0.0.1), another credential: not locked out.
      for (let i = 0; i < 5; i++) expect((await read(working)).status).toBe(200);
      expect((await read(stale)).status).toBe(429);
    } finally {
      await other.close();
    }
  });

  it('does not count successful or merely forbidden requests', async () => {
    const other = await startTestApp({ env: { RATE_LIMIT_AUTH_FAILURES: '2' } });
    try {
      const memberKey = await other.member('acme', 'member@acme.test', 'member');
      for (let i = 0; i < 5; i++) {
        expect(
          (
            await other.request('GET', '/api/v1/org/acme/credits', {
              headers: bearer(memberKey),
            })
          ).status,
        ).toBe(200);
        const forbidden = await other.request('POST', '/api/v1/org/acme/credits/checkout', {
          headers: bearer(memberKey),
          body: { success_url: 'http://localhost/a', cancel_url: 'http://localhost/b' },
        });
        expect(forbidden.status).toBe(403);
      }
    } finally {
      await other.close();
    }
  });
});
