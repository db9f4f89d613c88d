import { join } from 'node:path';
import type { Args } from './args';
import { query } from './database';
import { freePort, REPO_ROOT, startService, type Service } from './processes';
import { authHeaders, CHECKOUT_BODY, creditsPath, INVALID_BODY, post } from './requests';
import { recordFullGc, type FullGc } from './full-gc';
import type { Seeded } from './seed';

export const WEBHOOK_SECRET = 'whsec_bench';
export const PROFILE_DIR = join(REPO_ROOT, 'bench', 'results', 'profiles');

/** Generous limits for the traffic-protection settings so the bench measures work, not throttling. */
const UNTHROTTLED: Record<string, string> = {
  RATE_LIMIT_WINDOW_MS: '1000',
  RATE_LIMIT_CHECKOUT: '1000000',
  RATE_LIMIT_READ: '1000000',
  RATE_LIMIT_USAGE: '100000000',
  RATE_LIMIT_WEBHOOK: '10000000',
};

/** The processes a run measures, and what the scenarios need to know of them. */
export interface Stack {
  emulator: Service;
  api: Service;
  /** The floors on bare Fastify and on bare Nest (`floors/`). */
  floor: Service;
  nestFloor: Service;
  /** The API built from another commit (`--baseline DIR`), when asked for. */
  baseline?: Service;
  dbUrl: string;
  seeded: Seeded;
  /** The API's full collections, recorded when the soak runs (V8's --trace-gc). */
  fullGcs: FullGc[];
}

/**
 * The Stripe emulator, the API and the two floor servers (Fastify, Nest), each in its own process, pushed onto
 * `services` as they start (so that the caller stops whatever did). The floors reuse the Stripe
 * customer that the API's first checkout creates and answers the API's own 422 body.
 */
export async function startStack(args: Args, dbUrl: string, seeded: Seeded, services: Service[]): Promise<Stack> {
  const profArgs = (name: string) =>
    args.cpuProf.has(name)
      ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR, '--cpu-prof-name', `${name}-${Date.now()}.cpuprofile`]
      : [];

  const emulatorPort = await freePort();
  const emulator = await startService({
    name: 'stripe-emulator',
    script: 'dist/apps/stripe-emulator/src/main.js',
    env: {
      PATH: process.env.PATH,
      STRIPE_EMULATOR_PORT: String(emulatorPort),
      STRIPE_WEBHOOK_URL: '',
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    },
    // `/_emulator/gc` between the latency scenario's timed rounds (`latency.ts`).
    nodeArgs: [...profArgs('emulator'), '--expose-gc'],
    port: emulatorPort,
    readyPath: '/_emulator/health',
  });
  services.push(emulator);

  const sharedEnv = {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    HOST: '127.0.0.1',
    DATABASE_URL: dbUrl,
    STRIPE_SECRET_KEY: 'sk_test_bench',
    STRIPE_API_BASE: emulator.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_EMULATOR_EMBEDDED: 'false',
    CHECKOUT_ALLOWED_REDIRECT_HOSTS: 'localhost,127.0.0.1',
    ...UNTHROTTLED,
  };
  const apiPort = await freePort();
  // The soak tells a leak from memory V8 and the allocator keep: the live heap after each
  // full collection (V8's --trace-gc) beside the RSS.
  const fullGcs: FullGc[] = [];
  const traceGc = args.only.has('soak');
  const api = await startService({
    name: 'api',
    script: 'dist/apps/api/src/main.js',
    env: { ...sharedEnv, PORT: String(apiPort), PUBLIC_URL: `http://127.0.0.1:${apiPort}` },
    nodeArgs: [...profArgs('api'), ...(traceGc ? ['--trace-gc'] : [])],
    onLine: traceGc ? (line) => recordFullGc(line, fullGcs) : undefined,
    port: apiPort,
    readyPath: '/readyz',
  });
  services.push(api);

  let baseline: Service | undefined;
  if (args.baseline) {
    const port = await freePort();
    baseline = await startService({
      name: 'baseline',
      script: 'dist/apps/api/src/main.js',
      cwd: args.baseline,
      env: { ...sharedEnv, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` },
      nodeArgs: profArgs('baseline'),
      port,
      readyPath: '/readyz',
    });
    services.push(baseline);
  }

  // First checkout creates the org's Stripe customer (once, as in production); the floor reuses it.
  const checkoutPath = `${creditsPath(seeded.orgSlug)}/checkout`;
  const first = await post(api.url, checkoutPath, CHECKOUT_BODY, authHeaders(seeded.key));
  if (first.status !== 200) throw new Error(`checkout answered ${first.status}: ${first.text}`);
  const invalid = await post(api.url, checkoutPath, INVALID_BODY, authHeaders(seeded.key));
  if (invalid.status !== 422) throw new Error(`invalid checkout answered ${invalid.status}: ${invalid.text}`);
  const customerId = await query<{ id: string }>(
    dbUrl,
    'select stripe_customer_id as id from organizations where id = $1',
    [seeded.orgId],
  );

  const floorEnv = {
    ...sharedEnv,
    BENCH_ORG_ID: seeded.orgId,
    BENCH_ORG_SLUG: seeded.orgSlug,
    BENCH_USER_ID: seeded.userId,
    BENCH_CUSTOMER_ID: customerId[0].id,
    BENCH_422_BODY: invalid.text,
    BENCH_USAGE_ORG_IDS: seeded.usageFloorOrgs.map((o) => o.id).join(','),
  };
  const startFloor = async (name: string, script: string) => {
    const port = await freePort();
    const service = await startService({
      name,
      script,
      env: { ...floorEnv, PORT: String(port) },
      nodeArgs: profArgs(name),
      port,
      readyPath: '/healthz',
    });
    services.push(service);
    return service;
  };
  const floor = await startFloor('floor', 'dist/bench/floors/fastify-floor.js');
  const nestFloor = await startFloor('nest-floor', 'dist/bench/floors/nest-floor.js');

  return { emulator, api, floor, nestFloor, baseline, dbUrl, seeded, fullGcs };
}
