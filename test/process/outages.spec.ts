import { bearer } from '../support/auth';
import { Instance, parseLogs, seedMember, startInstance } from '../support/instance';
import {
  createPostgresDatabase,
  POSTGRES_SERVER,
  PostgresDatabase,
  REDIS_SERVER,
  uniqueRedisPrefix,
} from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { envelope } from '../support/envelope';
import { until } from '../support/until';
const BALANCE = '/api/v1/org/acme/credits';

/** Polls until `check` passes or `ms` elapse. */

/**
 * Outages of Redis and PostgreSQL, simulated by TCP proxies between the app and the real
 * servers (which other tests are using: they are never stopped).
 */
describe('outages: Redis and PostgreSQL going away and coming back', () => {
  let database: PostgresDatabase;
  let pg: TcpProxy;
  let redis: TcpProxy;
  let app: Instance;
  let key: string;
  const auth = () => bearer(key);
  const rateLimitLogs = () => parseLogs(app.logs).filter((l) => l.context === 'RateLimit');

  beforeAll(async () => {
    database = await createPostgresDatabase();
    pg = await new TcpProxy(POSTGRES_SERVER).start();
    redis = await new TcpProxy(REDIS_SERVER).start();
    const url = new URL(database.url);
    url.port = String(pg.port);
    app = await startInstance({
      DATABASE_URL: url.toString(),
      DATABASE_CONNECT_TIMEOUT_MS: '800',
      DATABASE_POOL_MAX: '4',
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      REDIS_KEY_PREFIX: uniqueRedisPrefix(),
      REDIS_COMMAND_TIMEOUT_MS: '300',
      REDIS_CONNECT_TIMEOUT_MS: '500',
      RATE_LIMIT_READ: '1000',
      REQUEST_TIMEOUT_MS: '1500',
      STRIPE_SECRET_KEY: 'sk_test_outages',
      STRIPE_API_BASE: 'http://127.0.0.1:9',
      STRIPE_WEBHOOK_SECRET: 'whsec_outages',
    });
    key = await seedMember(app.db, 'acme', 'admin@acme.test', 'admin');
  });
  afterAll(async () => {
    await app?.close();
    await Promise.all([pg?.close(), redis?.close()]);
    await database?.drop();
  });
  afterEach(() => {
    pg.setMode('open');
    redis.setMode('open');
  });

  it('keeps serving when Redis stops, says once why limits are off, and counts again when it is back', async () => {
    const before = await app.request('GET', BALANCE, { headers: auth() });
    expect(before.status).toBe(200);
    expect(before.headers.get('ratelimit-limit')).toBe('1000');

    redis.setMode('refuse');
    for (let i = 0; i < 10; i++) {
      const started = Date.now();
      const res = await app.request('GET', BALANCE, { headers: auth() });
      expect(res.status).toBe(200);
      // Served uncounted: no budget to report.
      expect(res.headers.get('ratelimit-limit')).toBeNull();
      // A refused connection fails at once; the bound is slack for a loaded machine.
      expect(Date.now() - started).toBeLessThan(1500);
    }
    const off = rateLimitLogs().filter((l) => /rate limits are OFF/.test(l.msg));
    expect(off).toHaveLength(1);
    expect(off[0]).toMatchObject({ level: 'error', msg: expect.stringContaining('Redis at redis://127.0.0.1:') });

    redis.setMode('open');
    await until(
      'the API to answer',
      async () => (await app.request('GET', BALANCE, { headers: auth() })).headers.get('ratelimit-limit') === '1000',
    );
    expect(rateLimitLogs().filter((l) => /back on/.test(l.msg))).toHaveLength(1);
  });

  it('keeps serving when Redis hangs: no request waits longer than the Redis command timeout', async () => {
    redis.setMode('blackhole');
    const durations: number[] = [];
    for (let i = 0; i < 6; i++) {
      const started = Date.now();
      const res = await app.request('GET', BALANCE, { headers: auth() });
      durations.push(Date.now() - started);
      expect(res.status).toBe(200);
    }
    // Bounded by REDIS_COMMAND_TIMEOUT_MS (300 ms) plus slack for a loaded machine.
    expect(Math.max(...durations)).toBeLessThan(1500);
    redis.setMode('open');
    await until(
      'the API to answer',
      async () => (await app.request('GET', BALANCE, { headers: auth() })).headers.get('ratelimit-limit') === '1000',
    );
  });

  it('answers 503 envelopes at once while PostgreSQL refuses connections, and recovers when it is back', async () => {
    pg.setMode('refuse');
    for (const path of [BALANCE, '/readyz']) {
      const started = Date.now();
      const res = await app.request('GET', path, { headers: auth() });
      expect(Date.now() - started).toBeLessThan(1500);
      expect(res.status).toBe(503);
      expect(res.body).toEqual(envelope(503, 'service_unavailable_error'));
    }
    // Liveness does not depend on the database.
    expect((await app.request('GET', '/healthz')).status).toBe(200);

    pg.setMode('open');
    await until(
      'the API to answer',
      async () => (await app.request('GET', BALANCE, { headers: auth() })).status === 200,
    );
    expect((await app.request('GET', '/readyz')).status).toBe(200);
  });

  it('answers by the request deadline while PostgreSQL hangs, and recovers when it answers again', async () => {
    pg.setMode('blackhole');
    const results = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const started = Date.now();
        const res = await app.request('GET', BALANCE, { headers: auth() });
        return { res, elapsed: Date.now() - started };
      }),
    );
    for (const { res, elapsed } of results) {
      expect(res.status).toBe(503);
      expect(res.body).toEqual(envelope(503, 'service_unavailable_error'));
      // REQUEST_TIMEOUT_MS is 1500: never a hang past it (slack for a loaded machine).
      expect(elapsed).toBeLessThan(4000);
    }

    pg.setMode('open');
    await until(
      'the API to answer',
      async () => (await app.request('GET', BALANCE, { headers: auth() })).status === 200,
      15000,
    );
  });
});
