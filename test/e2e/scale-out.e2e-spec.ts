import { eq } from 'drizzle-orm';
import { checkoutSessions, creditBalances, creditLedger, stripeEvents } from '@credits/database';
import { startStripeEmulator, StripeEmulator } from '../../apps/stripe-emulator/src';
import { request } from '../support/test-app';
import { WEBHOOK_SECRET } from '../support/stack';
import { bearer } from '../support/auth';
import { Instance, seedMember, startInstance } from '../support/instance';
import { createPostgresDatabase, PostgresDatabase, REDIS_SERVER, uniqueRedisPrefix } from '../support/services';

/**
 * Two API instances on different ports, one PostgreSQL database and one Redis: what one
 * instance counts, grants or claims, the other sees. Runs on the PostgreSQL server in both
 * the PGlite and the PostgreSQL runs (it creates its own database there).
 */
describe('scale-out: two instances, one PostgreSQL, one Redis', () => {
  let database: PostgresDatabase;
  let emulator: StripeEmulator;
  let a: Instance;
  let b: Instance;
  let key: string;
  const BODY = { success_url: 'http://localhost:3000/ok', cancel_url: 'http://localhost:3000/cancel' };
  const control = (method: string, path: string, body?: unknown) =>
    request(emulator.url, method, `/_emulator${path}`, body === undefined ? {} : { body }).then((res) => res.body);

  beforeAll(async () => {
    database = await createPostgresDatabase();
    emulator = await startStripeEmulator({ port: 0, webhookSecret: WEBHOOK_SECRET });
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: `redis://${REDIS_SERVER.host}:${REDIS_SERVER.port}`,
      REDIS_KEY_PREFIX: uniqueRedisPrefix(),
      RATE_LIMIT_READ: '7',
      RATE_LIMIT_CHECKOUT: '50',
      STRIPE_SECRET_KEY: 'sk_test_scale',
      STRIPE_API_BASE: emulator.url,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_TIMEOUT_MS: '5000',
    };
    [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
    key = await seedMember(a.db, 'acme', 'admin@acme.test', 'admin');
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await emulator?.close();
    await database?.drop();
  });

  it('shares one rate limit: both instances together allow exactly the limit', async () => {
    expect(a.url).not.toBe(b.url);
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        (i % 2 ? a : b).request('GET', '/api/v1/org/acme/credits', { headers: bearer(key) }),
      ),
    );
    const allowed = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    expect(allowed).toHaveLength(7);
    expect(limited).toHaveLength(9);
    expect(limited.every((r) => r.body.type === 'rate_limit_error' && Number(r.headers.get('retry-after')) >= 1)).toBe(
      true,
    );
    expect(new Set(allowed.map((r) => r.headers.get('ratelimit-remaining')))).toEqual(
      new Set(['0', '1', '2', '3', '4', '5', '6']),
    );
  });

  it('creates one Stripe session for an idempotent checkout sent to both at once', async () => {
    await control('DELETE', '/requests');
    // A slow Stripe keeps the first request in flight while the second arrives.
    await control('POST', '/faults', { path: '/v1/checkout/sessions', method: 'POST', delay_ms: 400 });
    const headers = bearer(key, { 'idempotency-key': 'both-at-once' });
    const [ra, rb] = await Promise.all([
      a.request('POST', '/api/v1/org/acme/credits/checkout', { headers, body: BODY }),
      b.request('POST', '/api/v1/org/acme/credits/checkout', { headers, body: BODY }),
    ]);
    await control('DELETE', '/faults');
    const statuses = [ra.status, rb.status].sort();
    // The second sees the first in progress (409) or, if it came after, replays it (200).
    expect([
      [200, 409],
      [200, 200],
    ]).toContainEqual(statuses);
    const winner = ra.status === 200 ? ra : rb;
    const sessions = ((await control('GET', '/requests?path=/v1/checkout/sessions')) as any[]).filter(
      (r) => r.method === 'POST',
    );
    expect(sessions).toHaveLength(1);
    expect(await a.db.select().from(checkoutSessions)).toHaveLength(1);

    // Retrying on the other instance replays the same answer.
    const loser = winner === ra ? b : a;
    const replay = await loser.request('POST', '/api/v1/org/acme/credits/checkout', { headers, body: BODY });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.session_id).toBe(winner.body.session_id);
  });

  it('grants once when duplicate webhook deliveries are split across both instances', async () => {
    const session = await a.request('POST', '/api/v1/org/acme/credits/checkout', {
      headers: bearer(key),
      body: { ...BODY, quantity: 3 },
    });
    expect(session.status).toBe(200);
    const paid = await control('POST', `/sessions/${session.body.session_id}/pay`, { deliver: false });
    const completed = paid.events.find((e: any) => (e.type ?? e.event?.type) === 'checkout.session.completed');
    const event = await control('GET', `/events/${completed.id ?? completed.event.id}`);
    const deliveries = Array.from({ length: 6 }, (_, i) =>
      request(i % 2 ? a.url : b.url, 'POST', '/api/v1/stripe/webhook', {
        headers: { 'content-type': 'application/json', 'stripe-signature': event.signature },
        raw: event.payload,
      }),
    );
    const results = await Promise.all(deliveries);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(results.filter((r) => r.body.outcome === 'processed')).toHaveLength(1);

    const entries = await a.db
      .select()
      .from(creditLedger)
      .where(eq(creditLedger.sourceRef, `purchase:${session.body.session_id}`));
    expect(entries.map((e) => e.amount)).toEqual([3000]);
    expect(
      await a.db
        .select()
        .from(stripeEvents)
        .where(eq(stripeEvents.id, event.event?.id ?? event.id)),
    ).toHaveLength(1);
    // (The read budget went on the first test, so the balance is read from the database.)
    expect((await a.db.select().from(creditBalances)).map((row) => row.balance)).toEqual([3000]);
  });
});
