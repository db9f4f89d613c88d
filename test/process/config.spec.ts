import { ConfigError, loadConfig } from '@credits/config';
import { isDependencyUnavailable } from '@credits/errors';
import { productionEnv } from '../support/production-env';

describe('traffic configuration', () => {
  it('has safe defaults: rate limits on, per process, no version check, CORS off, no proxy trusted', () => {
    const config = loadConfig({});
    expect(config.rateLimit).toEqual({
      windowMs: 60000,
      checkout: 10,
      read: 120,
      usage: 600000,
      webhook: 3000,
      authFailures: 30,
    });
    expect(config.redis).toMatchObject({ url: undefined, keyPrefix: 'credits-api:', commandTimeoutMs: 500 });
    expect(config.minClientVersion).toBeUndefined();
    expect(config.http).toMatchObject({
      corsOrigins: [],
      trustProxy: false,
      requestTimeoutMs: 20000,
      shutdownDelayMs: 0,
      shutdownGraceMs: 25000,
    });
  });

  it.each([
    ['true', true],
    ['2', 2],
    ['10.0.0.0/8, 127.0.0.1', ['10.0.0.0/8', '127.0.0.1']],
    ['false', false],
  ])('reads TRUST_PROXY=%s', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).http.trustProxy).toEqual(expected);
  });

  it.each(['1.2.3.4/99', '::::', '10.0.0.0/8/8', '300.1.1.1', 'fe80::/129'])(
    'refuses TRUST_PROXY=%s at boot, naming it',
    (value) => {
      expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(/TRUST_PROXY must be/);
    },
  );

  it('accepts IPv6 proxies and proxy-addr names', () => {
    expect(loadConfig({ TRUST_PROXY: '::1, fd00::/8, loopback' }).http.trustProxy).toEqual([
      '::1',
      'fd00::/8',
      'loopback',
    ]);
  });

  it('refuses TRUST_PROXY=true in production: every client could pick the address the per-IP limits count', () => {
    expect(() => loadConfig({ ...productionEnv, TRUST_PROXY: 'true' })).toThrow(
      /TRUST_PROXY must be false, a hop count, or addresses\/CIDRs like 10\.0\.0\.0\/8 in production/,
    );
    expect(loadConfig({ ...productionEnv, TRUST_PROXY: '1' }).http.trustProxy).toBe(1);
    expect(loadConfig({ ...productionEnv, TRUST_PROXY: '10.0.0.0/8' }).http.trustProxy).toEqual(['10.0.0.0/8']);
  });

  it('reads CORS origins, REDIS_URL and MIN_CLIENT_VERSION', () => {
    const config = loadConfig({
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
      REDIS_URL: 'redis://:pw@cache:6379/2',
      MIN_CLIENT_VERSION: 'v1.4.0',
    });
    expect(config.http.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(config.redis.url).toBe('redis://:pw@cache:6379/2');
    expect(config.minClientVersion).toBe('1.4.0');
  });

  it('names every wrong variable at once, and never echoes a Redis password', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        MIN_CLIENT_VERSION: '1.4',
        CORS_ORIGINS: 'https://app.example.com/path',
        TRUST_PROXY: 'everyone',
        REDIS_URL: 'http://:secret@cache',
        RATE_LIMIT_CHECKOUT: '0',
      });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.problems.map((p) => p.split(' ')[0]).sort()).toEqual([
      'CORS_ORIGINS',
      'MIN_CLIENT_VERSION',
      'RATE_LIMIT_CHECKOUT',
      'REDIS_URL',
      'TRUST_PROXY',
    ]);
    expect(error?.message).not.toContain('secret');
  });
});

describe('isDependencyUnavailable', () => {
  it('recognises a lost or refused database connection through wrappers, and not a bug', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isDependencyUnavailable(new Error('Failed query: select 1', { cause: refused }))).toBe(true);
    expect(isDependencyUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(
      isDependencyUnavailable(
        Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      ),
    ).toBe(true);
    expect(isDependencyUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isDependencyUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
  });
});
