import { ConfigError, loadConfig } from '@credits/config';
import { productionEnv } from '../support/production-env';

describe('loadConfig', () => {
  it('has working defaults for a laptop: embedded database, the Stripe emulator', () => {
    const config = loadConfig({});
    expect(config.http.port).toBe(3000);
    expect(config.database).toMatchObject({ url: undefined, dataDir: '.data' });
    expect(config.stripe).toMatchObject({
      usesEmulator: true,
      startEmulator: true,
      maxNetworkRetries: 2,
      timeoutMs: 10000,
    });
    expect(config.stripe.apiBase?.toString()).toBe('http://127.0.0.1:12111/');
    expect(config.checkout).toMatchObject({
      creditsPerBundle: 1000,
      unitAmount: 1000,
      currency: 'usd',
      allowedRedirectHosts: ['localhost', '127.0.0.1'],
    });
    expect(config.credits.lowBalanceThreshold).toBe(1000);
  });

  it("signs the embedded emulator's webhooks with a secret of this process, not the well-known default", () => {
    const [a, b] = [loadConfig({}), loadConfig({})];
    expect(a.stripe.webhookSecret).toMatch(/^whsec_[0-9a-f]{48}$/);
    expect(a.stripe.webhookSecret).not.toBe(b.stripe.webhookSecret);
    // A separate emulator process (not embedded) shares the documented default.
    expect(loadConfig({ STRIPE_EMULATOR_EMBEDDED: 'false' }).stripe.webhookSecret).toBe('whsec_emulator');
    expect(loadConfig({ STRIPE_WEBHOOK_SECRET: 'whsec_mine' }).stripe.webhookSecret).toBe('whsec_mine');
  });

  it('schedules reconciliation every 10 minutes over 72 h, off under NODE_ENV=test unless asked', () => {
    expect(loadConfig({}).reconcile).toEqual({
      enabled: true,
      cron: '*/10 * * * *',
      windowMs: 72 * 3_600_000,
      settleMs: 300_000,
    });
    expect(loadConfig({ NODE_ENV: 'test' }).reconcile.enabled).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test', RECONCILE_ENABLED: 'true' }).reconcile.enabled).toBe(true);
    expect(loadConfig({ RECONCILE_ENABLED: 'false' }).reconcile.enabled).toBe(false);
    expect(loadConfig({}).holds.sweepEnabled).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).holds.sweepEnabled).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test', HOLD_SWEEP_ENABLED: 'true' }).holds.sweepEnabled).toBe(true);
    expect(() => loadConfig({ RECONCILE_CRON: 'hourly' })).toThrow(/RECONCILE_CRON/);
    expect(() => loadConfig({ RECONCILE_WINDOW_HOURS: '0' })).toThrow(/RECONCILE_WINDOW_HOURS/);
  });

  it("polls for jobs every 2 s by default, never more often than pg-boss's 0.5 s", () => {
    expect(loadConfig({}).jobs).toEqual({ pollIntervalMs: 2000 });
    expect(loadConfig({ JOB_POLL_INTERVAL_MS: '500' }).jobs.pollIntervalMs).toBe(500);
    expect(() => loadConfig({ JOB_POLL_INTERVAL_MS: '499' })).toThrow(/JOB_POLL_INTERVAL_MS/);
  });

  it('caches credentials for 30 s by default, never longer than a minute, and can turn the cache off', () => {
    expect(loadConfig({}).credentialCache).toEqual({ maxAgeMs: 30_000, maxEntries: 10_000, lastUsedFlushMs: 15_000 });
    expect(loadConfig({ AUTH_CACHE_MAX_AGE_MS: '0' }).credentialCache.maxAgeMs).toBe(0);
    expect(() => loadConfig({ AUTH_CACHE_MAX_AGE_MS: '60001' })).toThrow(/AUTH_CACHE_MAX_AGE_MS/);
    expect(() => loadConfig({ AUTH_CACHE_MAX_ENTRIES: '0' })).toThrow(/AUTH_CACHE_MAX_ENTRIES/);
  });

  it('names every bad variable and what it expected, in one error', () => {
    expect(() =>
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://u:secret@h/db', STRIPE_TIMEOUT_MS: '-1' }),
    ).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://u:secret@h/db', STRIPE_TIMEOUT_MS: '-1' });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('PORT must be an integer from 0 to 65535 (got "eighty")');
      expect(message).toContain('DATABASE_URL must be postgres://…, postgresql://… or memory://');
      expect(message).toContain('STRIPE_TIMEOUT_MS');
      expect(message).not.toContain('secret');
    }
  });

  it('refuses to run production on the emulator, without a webhook secret or a redirect allow-list', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /STRIPE_SECRET_KEY is required in production.*STRIPE_WEBHOOK_SECRET.*CHECKOUT_ALLOWED_REDIRECT_HOSTS.*NOTIFY_ENCRYPTION_KEY is required/s,
    );
    const config = loadConfig({ ...productionEnv, CHECKOUT_ALLOWED_REDIRECT_HOSTS: 'app.example.com, *.example.com' });
    expect(config.stripe.usesEmulator).toBe(false);
    expect(config.stripe.apiBase).toBeUndefined();
    expect(config.checkout.requireHttpsRedirects).toBe(true);
    expect(config.checkout.allowedRedirectHosts).toEqual(['app.example.com', '*.example.com']);
    expect(config.notifications.publicTargetsOnly).toBe(true);
  });

  it('fetches JWT signing keys over https only in production', () => {
    expect(() =>
      loadConfig({ ...productionEnv, JWT_JWKS_URL: 'http://idp.example.com/.well-known/jwks.json' }),
    ).toThrow(/JWT_JWKS_URL must be a URL \(https:\)/);
    expect(
      loadConfig({ ...productionEnv, JWT_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json' }).jwt.jwksUrl?.host,
    ).toBe('idp.example.com');
    expect(loadConfig({ JWT_JWKS_URL: 'http://127.0.0.1:8080/jwks.json' }).jwt.jwksUrl?.port).toBe('8080');
  });

  it('never echoes a secret it rejects', () => {
    expect(() => loadConfig({ STRIPE_SECRET_KEY: 'pk_live_topsecret', JWT_SECRET: 'short' })).toThrow(ConfigError);
    try {
      loadConfig({ STRIPE_SECRET_KEY: 'pk_live_topsecret', JWT_SECRET: 'short' });
    } catch (error) {
      expect((error as Error).message).not.toMatch(/topsecret|short"/);
    }
  });
});
