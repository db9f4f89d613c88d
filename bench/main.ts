/**
 * `npm run bench [-- options]`: the API's hot paths against their floors, side by side.
 *
 * Processes: this one generates the load (autocannon); the API, the floor server and the
 * Stripe emulator each run in their own process, on a fresh PostgreSQL database that is
 * dropped at the end. See README.md, "Performance".
 */
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DirectoryAdmin } from '@credits/auth';
import { openDatabase } from '@credits/database';
import { alternate, Comparison, CONNECTIONS, LoadSpec, median, runLoad, Sample } from './load';
import { freePort, REPO_ROOT, Service, startService } from './processes';

const SCENARIOS = ['checkout', 'invalid', 'balance', 'webhook', 'soak'] as const;
type Scenario = (typeof SCENARIOS)[number];

const USAGE = `usage: npm run bench -- [--quick] [--only checkout,invalid,balance,webhook,soak]
                 [--soak-seconds N] [--rounds N] [--seconds N] [--webhook-events N]
                 [--cpu-prof api,floor,emulator]`;

interface Args {
  quick: boolean;
  only: Set<Scenario>;
  soakSeconds: number;
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  webhookEvents: number;
  cpuProf: Set<string>;
}

function parseArgs(argv: string[]): Args {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick' || arg === '--help') flags.add(arg);
    else if (/^--[a-z-]+$/.test(arg) && argv[i + 1] !== undefined) values.set(arg, argv[++i]);
    else if (/^--[a-z-]+=/.test(arg)) values.set(arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1));
    else fail(`unknown argument "${arg}"\n${USAGE}`);
  }
  if (flags.has('--help')) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const quick = flags.has('--quick');
  const int = (name: string, fallback: number, min: number): number => {
    const raw = values.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) fail(`${name} must be an integer >= ${min}`);
    return n;
  };
  const soakSeconds = int('--soak-seconds', 600, 10);
  let only: Set<Scenario>;
  if (values.has('--only')) {
    only = new Set();
    for (const name of values.get('--only')!.split(',')) {
      if (!(SCENARIOS as readonly string[]).includes(name))
        fail(`--only: unknown scenario "${name}" (${SCENARIOS.join(', ')})`);
      only.add(name as Scenario);
    }
  } else {
    // The soak is long: it runs only when asked for.
    only = new Set(SCENARIOS.filter((s) => s !== 'soak' || values.has('--soak-seconds')));
  }
  return {
    quick,
    only,
    soakSeconds,
    rounds: int('--rounds', 3, 1),
    seconds: int('--seconds', quick ? 1 : 5, 1),
    warmupSeconds: quick ? 1 : 2,
    webhookEvents: int('--webhook-events', quick ? 200 : 2000, 1),
    cpuProf: new Set((values.get('--cpu-prof') ?? '').split(',').filter(Boolean)),
  };
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

/** Generous limits for the traffic-protection settings so the bench measures work, not throttling. */
const UNTHROTTLED: Record<string, string> = {
  RATE_LIMIT_WINDOW_MS: '1000',
  RATE_LIMIT_CHECKOUT: '1000000',
  RATE_LIMIT_READ: '1000000',
  RATE_LIMIT_WEBHOOK: '10000000',
};

const SUCCESS_URL = 'http://localhost:3000/billing/success?session_id={CHECKOUT_SESSION_ID}';
const CANCEL_URL = 'http://localhost:3000/billing/cancel';
const CHECKOUT_BODY = JSON.stringify({ success_url: SUCCESS_URL, cancel_url: CANCEL_URL, quantity: 2 });
const INVALID_BODY = JSON.stringify({ success_url: SUCCESS_URL, cancel_url: CANCEL_URL, quantity: 11 });
const WEBHOOK_SECRET = 'whsec_bench';

interface Row {
  scenario: string;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  floor_rps: number | null;
  floor_p50_ms: number | null;
  floor_p99_ms: number | null;
  ratio: number | null;
  /** Our p99 minus the floor's. */
  added_p99_ms: number | null;
  unexpected: number;
  target: string;
  met: boolean | null;
  rounds?: { measured: Sample[]; floor: Sample[] };
}

interface SeededOrg {
  id: string;
  slug: string;
  key: string;
}

interface Seeded {
  orgId: string;
  orgSlug: string;
  userId: string;
  key: string;
  /** The webhook scenario's worst case: every grant of the run lands on this one org. */
  webhookOrg: SeededOrg;
  /** The webhook scenario spread over orgs, as many customers' payments are. */
  webhookOrgs: SeededOrg[];
}

/** How many orgs the spread webhook scenario shares its events between. */
const WEBHOOK_ORGS = 16;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const serverUrl = process.env.DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `credits_bench_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${process.pid}`;
  const dbUrl = new URL(serverUrl);
  dbUrl.pathname = `/${dbName}`;
  const profileDir = join(REPO_ROOT, 'bench', 'results', 'profiles');
  const profArgs = (name: string) =>
    args.cpuProf.has(name)
      ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}-${Date.now()}.cpuprofile`]
      : [];

  const services: Service[] = [];
  let dropDatabase: (() => Promise<void>) | undefined;
  let exitCode = 0;
  const cleanup = async () => {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    await dropDatabase?.().catch((err: unknown) => log(`could not drop ${dbName}: ${String(err)}`));
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    await admin(serverUrl, `create database ${dbName}`);
    dropDatabase = async () => {
      await admin(
        serverUrl,
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${dbName}' and pid <> pg_backend_pid()`,
      );
      await admin(serverUrl, `drop database if exists ${dbName}`);
    };
    log(`database ${dbName}; scenarios: ${[...args.only].join(', ')}${args.quick ? ' (quick)' : ''}`);
    const seeded = await seed(dbUrl.toString());

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
      nodeArgs: profArgs('emulator'),
      port: emulatorPort,
      readyPath: '/_emulator/health',
    });
    services.push(emulator);

    const sharedEnv = {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      HOST: '127.0.0.1',
      DATABASE_URL: dbUrl.toString(),
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

    // First checkout creates the org's Stripe customer (once, as in production); the floor reuses it.
    const first = await post(
      api.url,
      `/api/v1/org/${seeded.orgSlug}/credits/checkout`,
      CHECKOUT_BODY,
      authHeaders(seeded.key),
    );
    if (first.status !== 200) throw new Error(`checkout answered ${first.status}: ${first.text}`);
    const invalid = await post(
      api.url,
      `/api/v1/org/${seeded.orgSlug}/credits/checkout`,
      INVALID_BODY,
      authHeaders(seeded.key),
    );
    if (invalid.status !== 422) throw new Error(`invalid checkout answered ${invalid.status}: ${invalid.text}`);
    const customerId = await query<{ id: string }>(
      dbUrl.toString(),
      'select stripe_customer_id as id from organizations where id = $1',
      [seeded.orgId],
    );

    const floorPort = await freePort();
    const floor = await startService({
      name: 'floor',
      script: 'dist/bench/floor-server.js',
      env: {
        ...sharedEnv,
        PORT: String(floorPort),
        BENCH_ORG_ID: seeded.orgId,
        BENCH_ORG_SLUG: seeded.orgSlug,
        BENCH_USER_ID: seeded.userId,
        BENCH_CUSTOMER_ID: customerId[0].id,
        BENCH_422_BODY: invalid.text,
      },
      nodeArgs: profArgs('floor'),
      port: floorPort,
      readyPath: '/healthz',
    });
    services.push(floor);

    const rows: Row[] = [];
    const orgPath = `/api/v1/org/${seeded.orgSlug}/credits`;
    const rounds = { rounds: args.rounds, seconds: args.seconds, warmupSeconds: args.warmupSeconds };
    const onRound = (name: string) => (side: string, round: number, s: Sample) =>
      log(
        `${name} ${side} #${round}: ${s.rps.toFixed(0)} req/s, p50 ${s.p50} ms, p99 ${s.p99} ms${s.unexpected ? `, unexpected ${s.unexpected} ${JSON.stringify(s.statuses)}` : ''}`,
      );

    if (args.only.has('checkout')) {
      const comparison = await alternate(
        checkoutLoad(api.url, `${orgPath}/checkout`, seeded.key),
        checkoutLoad(floor.url, '/checkout', seeded.key),
        rounds,
        onRound('checkout 200'),
      );
      rows.push(compareRow('checkout 200', comparison, { ratio: 0.8, addedP99: 5 }));
    }
    if (args.only.has('invalid')) {
      const spec = (url: string, path: string): LoadSpec => ({
        url,
        expect: [422],
        requests: [
          {
            method: 'POST',
            path,
            headers: { ...authHeaders(seeded.key), 'content-type': 'application/json' },
            body: INVALID_BODY,
          },
        ],
      });
      const comparison = await alternate(
        spec(api.url, `${orgPath}/checkout`),
        spec(floor.url, '/invalid'),
        rounds,
        onRound('checkout 422'),
      );
      rows.push(compareRow('checkout 422', comparison, { ratio: 0.6 }));
    }
    if (args.only.has('balance')) {
      const spec = (url: string, path: string): LoadSpec => ({
        url,
        expect: [200],
        requests: [{ method: 'GET', path, headers: authHeaders(seeded.key) }],
      });
      const comparison = await alternate(
        spec(api.url, orgPath),
        spec(floor.url, '/balance'),
        rounds,
        onRound('balance'),
      );
      rows.push(compareRow('balance', comparison, { ratio: 0.6 }));
    }

    const webhooks: WebhookResult[] = [];
    if (args.only.has('webhook')) {
      for (const [label, orgs] of [
        ['one org', [seeded.webhookOrg]],
        [`${WEBHOOK_ORGS} orgs`, seeded.webhookOrgs],
      ] as const) {
        const webhook = await webhookScenario(api, emulator, dbUrl.toString(), label, orgs, args.webhookEvents);
        webhooks.push(webhook);
        rows.push(...webhook.rows);
        if (!webhook.exactlyOnce.held) exitCode = 1;
      }
    }

    let soak: SoakResult | undefined;
    if (args.only.has('soak')) {
      soak = await soakScenario(api, seeded, args.soakSeconds, fullGcs);
      rows.push(soak.row);
    }

    const unexpected = rows.reduce((n, r) => n + r.unexpected, 0);
    if (unexpected > 0) exitCode = 1;

    process.stdout.write('\n' + renderTable(rows) + '\n');
    for (const webhook of webhooks) {
      const e = webhook.exactlyOnce;
      process.stdout.write(
        `\nwebhook exactly-once (${webhook.label}): ${e.held ? 'HELD' : 'VIOLATED'} — ${e.sessions} sessions, ${e.grantedOnce} granted exactly once, ` +
          `${e.notOnce} not; balances ${e.balance} (expected ${e.expectedBalance}, ${e.orgsOff} orgs off); outcomes ${JSON.stringify(webhook.outcomes)}\n`,
      );
    }
    if (soak) {
      process.stdout.write(
        `\nsoak RSS (MiB, every 10 s): ${soak.samples.map((s) => (s.rss / 2 ** 20).toFixed(0)).join(' ')}\n` +
          `after the first minute ${mib(soak.rssAfterFirstMinute)} MiB, at the end ${mib(soak.rssAtEnd)} MiB ` +
          `(${((soak.rssAtEnd / soak.rssAfterFirstMinute - 1) * 100).toFixed(1)}%)\n` +
          `live heap after full GCs (MiB, ${soak.fullGcs.length} collections): median of the first minute ${mib(soak.liveHeapFirstMinute)}, ` +
          `of the last minute ${mib(soak.liveHeapLastMinute)}${soak.liveHeapFirstMinute && soak.liveHeapLastMinute ? ` (${((soak.liveHeapLastMinute / soak.liveHeapFirstMinute - 1) * 100).toFixed(1)}%)` : ''}\n`,
      );
    }

    const sha = git(['rev-parse', '--short', 'HEAD']) ?? 'unknown';
    const dirty = (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
    const report = {
      date: new Date().toISOString(),
      git_sha: sha,
      git_dirty: dirty,
      quick: args.quick,
      machine: machine(),
      settings: {
        connections: CONNECTIONS,
        rounds: args.rounds,
        seconds_per_round: args.seconds,
        warmup_seconds: args.warmupSeconds,
      },
      rows,
      webhooks: webhooks.map((w) => ({
        label: w.label,
        orgs: w.orgs,
        exactly_once: w.exactlyOnce,
        outcomes: w.outcomes,
        events: args.webhookEvents,
      })),
      soak,
      duration_s: Math.round((Date.now() - started) / 1000),
      exit_code: exitCode,
    };
    const resultsDir = join(REPO_ROOT, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = join(
      resultsDir,
      `${report.date.slice(0, 10)}-${sha}${dirty ? '-dirty' : ''}${args.quick ? '-quick' : ''}.json`,
    );
    writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`\nwritten ${file.slice(REPO_ROOT.length + 1)} (${report.duration_s} s)\n`);
    if (unexpected > 0)
      process.stderr.write(`bench: ${unexpected} unexpected responses (see the table): failing the run\n`);
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
    for (const service of services) {
      if (service.child.exitCode !== null)
        process.stderr.write(`--- ${service.name} output:\n${service.output.slice(-20).join('\n')}\n`);
    }
    exitCode = 1;
  } finally {
    await cleanup();
  }
  if (args.cpuProf.size > 0) log(`CPU profiles in ${profileDir}`);
  process.exit(exitCode);
}

// ---------------------------------------------------------------------------------------------
// Scenarios

function checkoutLoad(url: string, path: string, key: string): LoadSpec {
  const headers = { ...authHeaders(key), 'content-type': 'application/json' };
  return {
    url,
    expect: [200],
    requests: [
      {
        method: 'POST',
        path,
        body: CHECKOUT_BODY,
        setupRequest: (request) => ({ ...request, headers: { ...headers, 'idempotency-key': randomUUID() } }),
      },
    ],
  };
}

function compareRow(scenario: string, c: Comparison, target: { ratio: number; addedP99?: number }): Row {
  const rps = median(c.measured.map((s) => s.rps));
  const floorRps = median(c.floor.map((s) => s.rps));
  const p99 = median(c.measured.map((s) => s.p99));
  const floorP99 = median(c.floor.map((s) => s.p99));
  const ratio = rps / floorRps;
  const added = p99 - floorP99;
  const met = ratio >= target.ratio && (target.addedP99 === undefined || added <= target.addedP99);
  return {
    scenario,
    rps,
    p50_ms: median(c.measured.map((s) => s.p50)),
    p99_ms: p99,
    floor_rps: floorRps,
    floor_p50_ms: median(c.floor.map((s) => s.p50)),
    floor_p99_ms: floorP99,
    ratio,
    added_p99_ms: added,
    unexpected: [...c.measured, ...c.floor].reduce((n, s) => n + s.unexpected, 0),
    target: `≥ ${target.ratio}×${target.addedP99 === undefined ? '' : `, +p99 ≤ ${target.addedP99} ms`}`,
    met,
    rounds: c,
  };
}

interface WebhookResult {
  label: string;
  orgs: number;
  rows: Row[];
  outcomes: Record<string, number>;
  exactlyOnce: {
    held: boolean;
    sessions: number;
    grantedOnce: number;
    notOnce: number;
    /** Summed over the scenario's orgs. */
    balance: number;
    expectedBalance: number;
    /** Orgs whose balance is not the sum of their sessions' credits. */
    orgsOff: number;
  };
}

/**
 * Distinct paid sessions, dealt round-robin to `orgs`: each `checkout.session.completed` is
 * posted once (first deliveries), then all of them again (duplicates). Every session must end
 * up granted exactly once and every org's balance must be the sum of its grants. One org is
 * the worst case (its grants queue on its balance row); many orgs show what the rest costs.
 */
async function webhookScenario(
  api: Service,
  emulator: Service,
  dbUrl: string,
  label: string,
  orgs: readonly SeededOrg[],
  count: number,
): Promise<WebhookResult> {
  log(`webhook (${label}): creating and paying ${count} sessions`);
  const sessions = await parallel(count, 16, async (i) => {
    const org = orgs[i % orgs.length];
    const res = await post(
      api.url,
      `/api/v1/org/${org.slug}/credits/checkout`,
      JSON.stringify({ success_url: SUCCESS_URL, cancel_url: CANCEL_URL, quantity: 1 }),
      { ...authHeaders(org.key), 'idempotency-key': randomUUID() },
    );
    if (res.status !== 200) throw new Error(`webhook setup: checkout answered ${res.status}: ${res.text}`);
    return (JSON.parse(res.text) as { session_id: string; credits: number }).session_id;
  });
  const events = await parallel(count, 16, async (i) => {
    const paid = await post(
      emulator.url,
      `/_emulator/sessions/${sessions[i]}/pay`,
      JSON.stringify({ deliver: false }),
      {},
    );
    if (paid.status !== 200) throw new Error(`webhook setup: pay answered ${paid.status}: ${paid.text}`);
    const eventId = (JSON.parse(paid.text) as { events: { id: string; type: string }[] }).events.find(
      (e) => e.type === 'checkout.session.completed',
    )!.id;
    const res = await fetch(`${emulator.url}/_emulator/events/${eventId}`);
    const event = (await res.json()) as { payload: string; signature: string };
    return { payload: event.payload, signature: event.signature };
  });

  const outcomes: Record<string, number> = {};
  const spec = (): LoadSpec => {
    let next = 0;
    return {
      url: api.url,
      expect: [200],
      requests: [
        {
          method: 'POST',
          path: '/api/v1/stripe/webhook',
          setupRequest: (request) => {
            const event = events[next++ % events.length];
            return {
              ...request,
              body: event.payload,
              headers: { 'content-type': 'application/json', 'stripe-signature': event.signature },
            };
          },
          onResponse: (status, body) => {
            let outcome = `status ${status}`;
            try {
              outcome = (JSON.parse(body) as { outcome?: string }).outcome ?? outcome;
            } catch {
              // counted under its status
            }
            outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
          },
        },
      ],
    };
  };
  log(`webhook (${label}): first deliveries`);
  const firstRun = await runLoad(spec(), { amount: count });
  log(`webhook (${label}) first: ${firstRun.rps.toFixed(0)} events/s, p99 ${firstRun.p99} ms`);
  log(`webhook (${label}): the same events again`);
  const againRun = await runLoad(spec(), { amount: count });
  log(`webhook (${label}) duplicates: ${againRun.rps.toFixed(0)} events/s, p99 ${againRun.p99} ms`);

  const perOrg = await query<{ sessions: string; once: string; balance: string | null; expected: string | null }>(
    dbUrl,
    `select count(*) as sessions,
            count(*) filter (where (select count(*) from credit_ledger l where l.source_ref = 'purchase:' || s.id) = 1) as once,
            (select balance from credit_balances b where b.org_id = s.org_id) as balance,
            sum(s.credits) as expected
       from checkout_sessions s where s.org_id = any($1::uuid[])
      group by s.org_id`,
    [orgs.map((o) => o.id)],
  );
  const sum = (pick: (row: (typeof perOrg)[number]) => string | null) =>
    perOrg.reduce((n, row) => n + Number(pick(row) ?? 0), 0);
  const sessionsCount = sum((r) => r.sessions);
  const grantedOnce = sum((r) => r.once);
  const balance = sum((r) => r.balance);
  const expectedBalance = sum((r) => r.expected);
  const orgsOff = perOrg.filter((r) => Number(r.balance ?? 0) !== Number(r.expected ?? 0)).length;
  const held =
    sessionsCount === count &&
    grantedOnce === count &&
    orgsOff === 0 &&
    balance === expectedBalance &&
    (outcomes.processed ?? 0) === count;
  const row = (scenario: string, s: Sample, target: string, met: boolean | null): Row => ({
    scenario,
    rps: s.rps,
    p50_ms: s.p50,
    p99_ms: s.p99,
    floor_rps: null,
    floor_p50_ms: null,
    floor_p99_ms: null,
    ratio: null,
    added_p99_ms: null,
    unexpected: s.unexpected,
    target,
    met,
  });
  return {
    label,
    orgs: orgs.length,
    rows: [
      row(`webhook (first delivery, ${label})`, firstRun, '≥ 500 events/s, exactly-once', firstRun.rps >= 500 && held),
      row(`webhook (duplicates, ${label})`, againRun, 'exactly-once', held),
    ],
    outcomes,
    exactlyOnce: {
      held,
      sessions: sessionsCount,
      grantedOnce,
      notOnce: sessionsCount - grantedOnce,
      balance,
      expectedBalance,
      orgsOff,
    },
  };
}

interface SoakResult {
  row: Row;
  seconds: number;
  samples: { t: number; rss: number }[];
  rssAfterFirstMinute: number;
  rssAtEnd: number;
  /** Full collections during the soak, `t` in seconds from its start. */
  fullGcs: FullGc[];
  /** Medians of the live heap after full collections, in bytes (null: none in that minute). */
  liveHeapFirstMinute: number | null;
  liveHeapLastMinute: number | null;
}

/** A V8 mark-compact: the heap still in use after it. */
interface FullGc {
  t: number;
  liveBytes: number;
}

/** `[pid:0x…]  37963 ms: Mark-Compact 73.0 (105.0) -> 36.4 (94.0) MB, …` from --trace-gc. */
function recordFullGc(line: string, into: FullGc[]): void {
  const match = /Mark-Compact [\d.]+ \([\d.]+\) -> ([\d.]+) \(/.exec(line);
  if (match) into.push({ t: Date.now(), liveBytes: Math.round(Number(match[1]) * 2 ** 20) });
}

const mib = (bytes: number | null) => (bytes === null ? 'n/a' : (bytes / 2 ** 20).toFixed(1));

/**
 * Checkout and balance, alternately on every connection, sampling the API's RSS every 10 s.
 * The target compares two RSS samples, which swing by tens of MiB with where V8's heap is in
 * its collection cycle; the live heap after full collections is what shows a leak.
 */
async function soakScenario(api: Service, seeded: Seeded, seconds: number, allFullGcs: FullGc[]): Promise<SoakResult> {
  log(`soak: ${seconds} s of checkout + balance`);
  const orgPath = `/api/v1/org/${seeded.orgSlug}/credits`;
  const checkout = checkoutLoad(api.url, `${orgPath}/checkout`, seeded.key).requests[0];
  const samples: { t: number; rss: number }[] = [];
  const t0 = Date.now();
  const sample = () => {
    const rss = api.rss();
    if (rss !== undefined) samples.push({ t: Math.round((Date.now() - t0) / 1000), rss });
  };
  sample();
  const timer = setInterval(() => {
    sample();
    const last = samples[samples.length - 1];
    if (last) log(`soak t=${last.t}s rss ${mib(last.rss)} MiB`);
  }, 10_000);
  const result = await runLoad(
    {
      url: api.url,
      expect: [200],
      requests: [checkout, { method: 'GET', path: orgPath, headers: authHeaders(seeded.key) }],
    },
    { seconds },
  );
  clearInterval(timer);
  sample();
  const afterMinute = samples.find((s) => s.t >= Math.min(60, seconds / 2)) ?? samples[0];
  const end = samples[samples.length - 1];
  const growth = end.rss / afterMinute.rss - 1;
  const fullGcs = allFullGcs
    .filter((gc) => gc.t >= t0)
    .map((gc) => ({ t: Math.round((gc.t - t0) / 1000), liveBytes: gc.liveBytes }));
  const window = Math.min(60, seconds / 2);
  const liveMedian = (gcs: FullGc[]) => (gcs.length ? median(gcs.map((gc) => gc.liveBytes)) : null);
  const liveHeapFirstMinute = liveMedian(fullGcs.filter((gc) => gc.t < window));
  const liveHeapLastMinute = liveMedian(fullGcs.filter((gc) => gc.t >= seconds - window));
  return {
    row: {
      scenario: `soak ${seconds}s (checkout+balance)`,
      rps: result.rps,
      p50_ms: result.p50,
      p99_ms: result.p99,
      floor_rps: null,
      floor_p50_ms: null,
      floor_p99_ms: null,
      ratio: null,
      added_p99_ms: null,
      unexpected: result.unexpected,
      target: `RSS end ≤ +10% of 1st min (${(growth * 100).toFixed(1)}%)`,
      met: growth <= 0.1,
    },
    seconds,
    samples,
    rssAfterFirstMinute: afterMinute.rss,
    rssAtEnd: end.rss,
    fullGcs,
    liveHeapFirstMinute,
    liveHeapLastMinute,
  };
}

// ---------------------------------------------------------------------------------------------
// Setup and helpers

async function seed(url: string): Promise<Seeded> {
  const handle = await openDatabase({
    url,
    dataDir: '',
    poolMax: 2,
    logger: { log: () => undefined, warn: log, error: log },
  });
  try {
    const directory = new DirectoryAdmin(handle.db);
    const member = async (slug: string, email: string) => {
      const org = await directory.createOrg(slug, `Bench ${slug}`);
      const user = await directory.createUser(email);
      await directory.addMember(slug, email, 'admin');
      return { org, user, key: (await directory.createApiKey(email, 'bench')).key };
    };
    const webhookOrg = async (slug: string): Promise<SeededOrg> => {
      const { org, key } = await member(slug, `${slug}@bench.test`);
      return { id: org.id, slug: org.slug, key };
    };
    const main = await member('bench-org', 'bench@bench.test');
    const webhookOrgs: SeededOrg[] = [];
    for (let i = 0; i < WEBHOOK_ORGS; i++) webhookOrgs.push(await webhookOrg(`bench-webhooks-${i}`));
    return {
      orgId: main.org.id,
      orgSlug: main.org.slug,
      userId: main.user.id,
      key: main.key,
      webhookOrg: await webhookOrg('bench-webhooks'),
      webhookOrgs,
    };
  } finally {
    await handle.close();
  }
}

function authHeaders(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

async function post(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, text: await res.text() };
}

async function parallel<T>(count: number, concurrency: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}

async function admin(serverUrl: string, sql: string): Promise<void> {
  await query(serverUrl, sql);
}

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function machine() {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpu_model: cpu[0]?.model,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadavg_at_end: loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

function renderTable(rows: Row[]): string {
  const fmt = (n: number | null, digits = 0) => (n === null || Number.isNaN(n) ? '—' : n.toFixed(digits));
  const header = [
    'scenario',
    'req/s',
    'p50 ms',
    'p99 ms',
    'floor req/s',
    'floor p50',
    'floor p99',
    'ratio',
    '+p99 ms',
    'unexpected',
    'target',
    'met',
  ];
  const body = rows.map((r) => [
    r.scenario,
    fmt(r.rps),
    fmt(r.p50_ms, 1),
    fmt(r.p99_ms, 1),
    fmt(r.floor_rps),
    fmt(r.floor_p50_ms, 1),
    fmt(r.floor_p99_ms, 1),
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
    fmt(r.added_p99_ms, 1),
    String(r.unexpected),
    r.target,
    r.met === null ? '—' : r.met ? 'yes' : 'NO',
  ]);
  const lines = [header, header.map(() => '---'), ...body];
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

void main();
