import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { valid as validSemver } from 'semver';
import { Env, EnvReader } from './env-reader';

export const NODE_ENVS = ['development', 'test', 'production'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The key used against the local Stripe emulator when no real key is configured. */
export const EMULATOR_SECRET_KEY = 'sk_test_emulator';
export const EMULATOR_WEBHOOK_SECRET = 'whsec_emulator';

export interface AppConfig {
  env: (typeof NODE_ENVS)[number];
  isProduction: boolean;
  http: {
    host: string;
    port: number;
    /** Bytes; the webhook route has its own, larger limit. */
    bodyLimit: number;
    webhookBodyLimit: number;
    /** Public base URL of this service (used to wire the emulator's webhook target). */
    publicUrl: string;
    /** Fastify `trustProxy`: false, true, a hop count, or the proxies' addresses/CIDRs. */
    trustProxy: boolean | number | string[];
    /** Browser origins allowed by CORS; empty = CORS off. */
    corsOrigins: string[];
    /** Server-side deadline of every request, ms. */
    requestTimeoutMs: number;
    /** SIGTERM: how long readiness reports 503 before the listener closes (lets a load balancer notice). */
    shutdownDelayMs: number;
    /** SIGTERM: how long requests in flight may take to finish before the process gives up on them. */
    shutdownGraceMs: number;
  };
  /** Per-caller request budgets per window; the webhook has one budget shared by every sender. */
  rateLimit: {
    windowMs: number;
    checkout: number;
    read: number;
    /** Usage debits per caller (the host backend meters at thousands a second). */
    usage: number;
    webhook: number;
    /** Failed authentications per client address and window before it gets 429. */
    authFailures: number;
  };
  redis: {
    /** undefined: rate-limit counters are kept per process. */
    url: string | undefined;
    /** Prefix of every key this service writes (several deployments may share one Redis). */
    keyPrefix: string;
    connectTimeoutMs: number;
    commandTimeoutMs: number;
  };
  /** Lowest `X-Client-Version` served; undefined = no check. */
  minClientVersion: string | undefined;
  log: { level: (typeof LOG_LEVELS)[number] };
  database: {
    /** undefined: embedded PGlite in `dataDir`; `memory://`; or `postgres://…`. */
    url: string | undefined;
    /** A direct connection for LISTEN when `url` goes through a transaction pooler (PostgreSQL only). */
    listenUrl: string | undefined;
    dataDir: string;
    poolMax: number;
    connectTimeoutMs: number;
    statementTimeoutMs: number;
  };
  jwt: {
    secret: string | undefined;
    jwksUrl: URL | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    /** Allowed clock skew, seconds. */
    clockToleranceSec: number;
  };
  /** The in-process cache of verified credentials (libs/auth credential-cache). */
  credentialCache: {
    /** How long a verified credential and its memberships are served without the database; 0 = off. */
    maxAgeMs: number;
    /** Entries kept at most (least recently used first out). */
    maxEntries: number;
    /** API keys' `last_used_at` is written in one batch this often (and at shutdown). */
    lastUsedFlushMs: number;
  };
  stripe: {
    secretKey: string;
    /** True when no key was configured and the local emulator stands in for Stripe. */
    usesEmulator: boolean;
    /** Stripe-compatible server to talk to; undefined = api.stripe.com. */
    apiBase: URL | undefined;
    timeoutMs: number;
    maxNetworkRetries: number;
    /** A whole Stripe call, every attempt included, never takes longer: timeout × attempts. */
    callDeadlineMs: number;
    webhookSecret: string | undefined;
    /** Where the emulator delivers events; only used when `usesEmulator`. */
    emulatorPort: number;
    /** Start the emulator inside the API process (development convenience). */
    startEmulator: boolean;
  };
  checkout: {
    creditsPerBundle: number;
    priceId: string | undefined;
    unitAmount: number;
    currency: string;
    productName: string;
    /** Lower-cased host patterns; `*.example.com` matches sub-domains only. */
    allowedRedirectHosts: string[];
    requireHttpsRedirects: boolean;
  };
  credits: {
    lowBalanceThreshold: number;
    /** The lifetime of a purchase's or refill's grant, seconds (`PURCHASED_CREDITS_EXPIRE_AFTER`); null: never. */
    purchasedExpireAfterSeconds: number | null;
    /** How long before a grant expires `credits.expiring` is sent and `GET /credits` shows it. */
    expiryNoticeDays: number;
  };
  /** The job that writes expired grants off within a minute and sends expiry notices. */
  grants: {
    expirySweepEnabled: boolean;
  };
  notifications: {
    /** AES-256 key that encrypts endpoints' signing secrets at rest. */
    encryptionKey: Buffer;
    /** Production: https only, and never to a loopback, link-local or private address. */
    publicTargetsOnly: boolean;
    /** One delivery attempt's deadline, ms. */
    timeoutMs: number;
    /** Delay before the first retry, seconds; each later one doubles (capped at 6 h). */
    retryDelaySeconds: number;
    /** Retries stop once an event is this old, seconds (3 days). */
    retryWindowSeconds: number;
  };
  /** The scheduled sweep that grants paid Checkout sessions whose webhook never came. */
  reconcile: {
    enabled: boolean;
    /** A 5-field cron schedule (UTC). */
    cron: string;
    /** Sessions created this far back are checked. */
    windowMs: number;
    /** Sessions younger than this are left to the webhook. */
    settleMs: number;
  };
  /** The scheduled sweep that marks holds past their `expires_at` as `expired`. */
  holds: {
    sweepEnabled: boolean;
  };
  /** The background job queue (`libs/jobs`). */
  jobs: {
    /**
     * How often an idle worker asks for a job: what a job written in a transaction (an outbox
     * job: notifications, refills) or sent by another instance waits at most. Milliseconds.
     */
    pollIntervalMs: number;
  };
  /** What is deleted once it is of no more use, so that no table grows without bound. */
  retention: {
    /** The scheduled deletion (`RETENTION_ENABLED`, `RETENTION_CRON`). */
    enabled: boolean;
    cron: string;
    /** Rows per DELETE statement: each one is short, and locks little. */
    batchSize: number;
    /** Notification events and their finished deliveries are kept this long, days. */
    notificationDays: number;
    /** Finished jobs are kept this long in pg-boss's archive, days. */
    finishedJobDays: number;
  };
}

export function loadConfig(env: Env = process.env): AppConfig {
  const read = new EnvReader(env);
  const nodeEnv = read.oneOf('NODE_ENV', NODE_ENVS, 'development');
  const isProduction = nodeEnv === 'production';

  const port = read.int('PORT', 3000, { min: 0, max: 65535 });
  const host = read.string('HOST', '0.0.0.0');

  const databaseUrl = read.string('DATABASE_URL');
  if (databaseUrl && !/^(postgres|postgresql|memory):\/\//.test(databaseUrl)) {
    read.fail(
      'DATABASE_URL',
      'postgres://…, postgresql://… or memory://',
      databaseUrl.split(':')[0] + '://…',
      undefined,
    );
  }

  const listenUrl = read.string('DATABASE_LISTEN_URL');
  if (listenUrl !== undefined && !/^(postgres|postgresql):\/\//.test(listenUrl)) {
    read.fail('DATABASE_LISTEN_URL', 'postgres://… or postgresql://…', listenUrl.split(':')[0] + '://…', undefined);
  } else if (listenUrl !== undefined && !/^(postgres|postgresql):\/\//.test(databaseUrl ?? '')) {
    read.problem('DATABASE_LISTEN_URL', 'is for PostgreSQL only: set DATABASE_URL to a postgres:// URL too');
  }

  const jwtSecret = read.string('JWT_SECRET');
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) {
    read.problem('JWT_SECRET', 'must be at least 32 bytes long (HS256 needs a key as long as its hash)');
  }

  const secretKey = read.string('STRIPE_SECRET_KEY');
  if (secretKey !== undefined && !/^(sk|rk)_(test|live)_/.test(secretKey)) {
    read.problem('STRIPE_SECRET_KEY', 'must be a Stripe secret or restricted key (sk_… or rk_…)');
  }
  if (isProduction && secretKey === undefined) {
    read.problem('STRIPE_SECRET_KEY', 'is required in production (the local emulator is for development only)');
  }
  // Production never falls back to the emulator: a missing key is an error above.
  const usesEmulator = secretKey === undefined && !isProduction;
  const emulatorPort = read.int('STRIPE_EMULATOR_PORT', 12111, { min: 0, max: 65535 });
  const apiBase =
    read.url('STRIPE_API_BASE') ?? (usesEmulator ? new URL(`http://127.0.0.1:${emulatorPort}`) : undefined);
  const startEmulator = read.bool('STRIPE_EMULATOR_EMBEDDED', usesEmulator && nodeEnv === 'development');
  // An emulator in this process signs with a secret only this process knows: the well-known
  // default would let anyone who reaches the webhook sign events (think of an instance
  // started without NODE_ENV). A separate emulator process needs the shared default.
  const emulatorWebhookSecret = startEmulator ? `whsec_${randomBytes(24).toString('hex')}` : EMULATOR_WEBHOOK_SECRET;
  const webhookSecret = read.string('STRIPE_WEBHOOK_SECRET') ?? (usesEmulator ? emulatorWebhookSecret : undefined);
  if (isProduction && webhookSecret === undefined) {
    read.problem('STRIPE_WEBHOOK_SECRET', 'is required in production (webhooks cannot be verified without it)');
  }

  const stripeTimeoutMs = read.int('STRIPE_TIMEOUT_MS', 10000, { min: 100, max: 120000 });
  const stripeRetries = read.int('STRIPE_MAX_NETWORK_RETRIES', 2, { min: 0, max: 10 });
  const priceId = read.string('STRIPE_PRICE_ID');
  const currency = read.string('BUNDLE_CURRENCY', 'usd').toLowerCase();
  if (!/^[a-z]{3}$/.test(currency)) read.fail('BUNDLE_CURRENCY', 'a three-letter ISO currency code', currency, 'usd');

  const defaultHosts = isProduction ? [] : ['localhost', '127.0.0.1'];
  const allowedRedirectHosts = read.list('CHECKOUT_ALLOWED_REDIRECT_HOSTS', defaultHosts).map((h) => h.toLowerCase());
  if (allowedRedirectHosts.length === 0) {
    read.problem(
      'CHECKOUT_ALLOWED_REDIRECT_HOSTS',
      'must list at least one host in production (e.g. app.example.com,*.example.com)',
    );
  }
  for (const pattern of allowedRedirectHosts) {
    if (!/^(\*\.)?[a-z0-9.-]+(:\d+)?$/.test(pattern)) {
      read.fail('CHECKOUT_ALLOWED_REDIRECT_HOSTS', 'hosts like app.example.com or *.example.com', pattern, undefined);
    }
  }

  const notificationKey = read.string('NOTIFY_ENCRYPTION_KEY');
  if (notificationKey !== undefined && Buffer.byteLength(notificationKey) < 32) {
    read.problem('NOTIFY_ENCRYPTION_KEY', 'must be at least 32 bytes long');
  }
  if (isProduction && notificationKey === undefined) {
    read.problem('NOTIFY_ENCRYPTION_KEY', 'is required in production (it encrypts notification signing secrets)');
  }

  const reconcileCron = read.string('RECONCILE_CRON', '*/10 * * * *').trim();
  if (!/^\S+( \S+){4}$/.test(reconcileCron))
    read.fail('RECONCILE_CRON', 'a 5-field cron schedule such as */10 * * * *', reconcileCron, '*/10 * * * *');
  const retentionCron = read.string('RETENTION_CRON', '23 * * * *').trim();
  if (!/^\S+( \S+){4}$/.test(retentionCron))
    read.fail('RETENTION_CRON', 'a 5-field cron schedule such as 23 * * * *', retentionCron, '23 * * * *');
  const notifyRetryWindowSeconds = read.int('NOTIFY_RETRY_WINDOW_SECONDS', 3 * 86400, { min: 60, max: 30 * 86400 });
  const redisUrl = read.url('REDIS_URL', { protocols: ['redis:', 'rediss:'] })?.toString();
  const minClientVersion = read.string('MIN_CLIENT_VERSION');
  if (minClientVersion !== undefined && validSemver(minClientVersion) === null) {
    read.fail('MIN_CLIENT_VERSION', 'a semantic version such as 1.4.0', minClientVersion, undefined);
  }

  const config: AppConfig = {
    env: nodeEnv,
    isProduction,
    http: {
      host,
      port,
      bodyLimit: read.int('BODY_LIMIT_BYTES', 64 * 1024, { min: 1024, max: 10 * 1024 * 1024 }),
      webhookBodyLimit: read.int('WEBHOOK_BODY_LIMIT_BYTES', 1024 * 1024, { min: 1024, max: 10 * 1024 * 1024 }),
      publicUrl: (read.url('PUBLIC_URL')?.toString() ?? `http://127.0.0.1:${port}/`).replace(/\/$/, ''),
      trustProxy: readTrustProxy(read, isProduction),
      corsOrigins: read.list('CORS_ORIGINS').map((origin) => readOrigin(read, origin)),
      requestTimeoutMs: read.int('REQUEST_TIMEOUT_MS', 20000, { min: 100, max: 600000 }),
      shutdownDelayMs: read.int('SHUTDOWN_DELAY_MS', 0, { min: 0, max: 600000 }),
      shutdownGraceMs: read.int('SHUTDOWN_GRACE_MS', 25000, { min: 100, max: 600000 }),
    },
    rateLimit: {
      windowMs: read.int('RATE_LIMIT_WINDOW_MS', 60000, { min: 100, max: 86_400_000 }),
      checkout: read.int('RATE_LIMIT_CHECKOUT', 10, { min: 1, max: 1_000_000 }),
      read: read.int('RATE_LIMIT_READ', 120, { min: 1, max: 1_000_000 }),
      usage: read.int('RATE_LIMIT_USAGE', 600_000, { min: 1, max: 100_000_000 }),
      webhook: read.int('RATE_LIMIT_WEBHOOK', 3000, { min: 1, max: 10_000_000 }),
      authFailures: read.int('RATE_LIMIT_AUTH_FAILURES', 30, { min: 1, max: 1_000_000 }),
    },
    redis: {
      url: redisUrl,
      keyPrefix: read.string('REDIS_KEY_PREFIX', 'credits-api:'),
      connectTimeoutMs: read.int('REDIS_CONNECT_TIMEOUT_MS', 2000, { min: 100, max: 60000 }),
      commandTimeoutMs: read.int('REDIS_COMMAND_TIMEOUT_MS', 500, { min: 10, max: 60000 }),
    },
    minClientVersion: minClientVersion === undefined ? undefined : (validSemver(minClientVersion) ?? undefined),
    log: { level: read.oneOf('LOG_LEVEL', LOG_LEVELS, nodeEnv === 'test' ? 'warn' : 'info') },
    database: {
      url: databaseUrl,
      listenUrl,
      dataDir: read.string('DATA_DIR', '.data'),
      poolMax: read.int('DATABASE_POOL_MAX', 10, { min: 1, max: 1000 }),
      connectTimeoutMs: read.int('DATABASE_CONNECT_TIMEOUT_MS', 5000, { min: 100, max: 600000 }),
      statementTimeoutMs: read.int('DATABASE_STATEMENT_TIMEOUT_MS', 10000, { min: 100, max: 600000 }),
    },
    jwt: {
      secret: jwtSecret,
      // The signing keys themselves: fetched over anything but https, whoever can tamper
      // with the fetch can mint tokens for any user.
      jwksUrl: read.url('JWT_JWKS_URL', { protocols: isProduction ? ['https:'] : ['http:', 'https:'] }),
      issuer: read.string('JWT_ISSUER'),
      audience: read.string('JWT_AUDIENCE'),
      clockToleranceSec: read.int('JWT_CLOCK_TOLERANCE_SEC', 5, { min: 0, max: 300 }),
    },
    credentialCache: {
      // At most a minute: what the cache bounds if a change's notification is ever missed.
      maxAgeMs: read.int('AUTH_CACHE_MAX_AGE_MS', 30_000, { min: 0, max: 60_000 }),
      maxEntries: read.int('AUTH_CACHE_MAX_ENTRIES', 10_000, { min: 1, max: 1_000_000 }),
      lastUsedFlushMs: read.int('API_KEY_LAST_USED_FLUSH_MS', 15_000, { min: 100, max: 600_000 }),
    },
    stripe: {
      secretKey: secretKey ?? EMULATOR_SECRET_KEY,
      usesEmulator,
      apiBase,
      timeoutMs: stripeTimeoutMs,
      maxNetworkRetries: stripeRetries,
      callDeadlineMs: stripeTimeoutMs * (stripeRetries + 1),
      webhookSecret,
      emulatorPort,
      startEmulator,
    },
    checkout: {
      creditsPerBundle: read.int('CREDITS_PER_BUNDLE', 1000, { min: 1, max: 1_000_000_000 }),
      priceId,
      unitAmount: read.int('BUNDLE_UNIT_AMOUNT', 1000, { min: 1, max: 99_999_999 }),
      currency,
      productName: read.string('BUNDLE_PRODUCT_NAME', 'Credit bundle'),
      allowedRedirectHosts,
      requireHttpsRedirects: isProduction,
    },
    credits: {
      lowBalanceThreshold: read.int('LOW_BALANCE_THRESHOLD', 1000, { min: 0 }),
      purchasedExpireAfterSeconds: read.durationSeconds('PURCHASED_CREDITS_EXPIRE_AFTER') ?? null,
      expiryNoticeDays: read.int('EXPIRY_NOTICE_DAYS', 30, { min: 1, max: 365 }),
    },
    grants: {
      // Off in tests unless asked for, like the other sweeps: an expired grant stops being
      // spendable at its expires_at, and any write to the org settles it first.
      expirySweepEnabled: read.bool('GRANT_EXPIRY_ENABLED', nodeEnv !== 'test'),
    },
    notifications: {
      // Outside production a fixed key: development databases hold only test endpoints.
      encryptionKey: createHash('sha256')
        .update(notificationKey ?? 'credits-api development notification key')
        .digest(),
      publicTargetsOnly: isProduction,
      timeoutMs: read.int('NOTIFY_TIMEOUT_MS', 10000, { min: 100, max: 60000 }),
      retryDelaySeconds: read.int('NOTIFY_RETRY_DELAY_SECONDS', 15, { min: 1, max: 3600 }),
      retryWindowSeconds: notifyRetryWindowSeconds,
    },
    reconcile: {
      // Off in tests unless asked for: each app with a job pays for the queue's schema.
      enabled: read.bool('RECONCILE_ENABLED', nodeEnv !== 'test'),
      cron: reconcileCron,
      windowMs: read.int('RECONCILE_WINDOW_HOURS', 72, { min: 1, max: 24 * 90 }) * 3_600_000,
      settleMs: read.int('RECONCILE_SETTLE_SECONDS', 300, { min: 0, max: 86_400 }) * 1000,
    },
    holds: {
      // Off in tests unless asked for, like reconciliation: an expired hold stops counting at its
      // expires_at whether or not the sweep ran, so nothing depends on it.
      sweepEnabled: read.bool('HOLD_SWEEP_ENABLED', nodeEnv !== 'test'),
    },
    jobs: {
      // pg-boss polls at most every 0.5 s.
      pollIntervalMs: read.int('JOB_POLL_INTERVAL_MS', 2000, { min: 500, max: 60_000 }),
    },
    retention: {
      // Off in tests unless asked for, like the other sweeps.
      enabled: read.bool('RETENTION_ENABLED', nodeEnv !== 'test'),
      cron: retentionCron,
      batchSize: read.int('RETENTION_BATCH_SIZE', 1000, { min: 1, max: 100_000 }),
      // An event is never deleted while its deliveries may still be retried.
      notificationDays: read.int('NOTIFICATION_RETENTION_DAYS', 30, {
        min: Math.ceil(notifyRetryWindowSeconds / 86400) + 1,
        max: 3650,
      }),
      finishedJobDays: read.int('JOB_RETENTION_DAYS', 7, { min: 1, max: 365 }),
    },
  };

  read.assertValid();
  return config;
}

/**
 * `TRUST_PROXY`: unset/false, true, a hop count, or a comma-separated list of addresses/CIDRs.
 * `true` trusts every hop, so the client address becomes the leftmost `X-Forwarded-For`
 * entry, which the client writes itself: anyone could then pick the address that per-IP
 * limits count (dodging them, or locking another address out). Refused in production.
 */
function readTrustProxy(read: EnvReader, isProduction: boolean): boolean | number | string[] {
  const expected = 'false, a hop count, or addresses/CIDRs like 10.0.0.0/8';
  const value = read.raw('TRUST_PROXY');
  if (value === undefined || /^(false|0|no)$/i.test(value)) return false;
  if (/^(true|yes)$/i.test(value)) {
    if (!isProduction) return true;
    return read.fail(
      'TRUST_PROXY',
      `${expected} in production (true lets clients choose their own address)`,
      value,
      false,
    );
  }
  if (/^\d+$/.test(value)) return Number(value);
  const proxies = read.list('TRUST_PROXY');
  for (const proxy of proxies) {
    if (!isProxyAddress(proxy)) read.fail('TRUST_PROXY', `true, ${expected}`, proxy, false);
  }
  return proxies;
}

/** An IP address, a CIDR with a prefix its family allows, or one of proxy-addr's names. */
function isProxyAddress(value: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(value)) return true;
  const [address, prefix, ...rest] = value.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** A CORS origin is a scheme, host and optional port, nothing else: that is what browsers send. */
function readOrigin(read: EnvReader, origin: string): string {
  try {
    const url = new URL(origin);
    if (['http:', 'https:'].includes(url.protocol) && url.origin === origin.replace(/\/$/, '')) return url.origin;
  } catch {
    // reported below
  }
  return read.fail('CORS_ORIGINS', 'origins like https://app.example.com', origin, origin);
}
