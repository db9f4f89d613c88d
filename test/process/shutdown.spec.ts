import { ChildProcess, spawn } from 'node:child_process';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { checkoutSessions, idempotencyKeys, type DatabaseHandle } from '@credits/database';
import { startStripeEmulator, StripeEmulator } from '../../apps/stripe-emulator/src';
import { bearer } from '../support/auth';
import { parseLogs, seedMember } from '../support/instance';
import {
  createPostgresDatabase,
  openTestDb,
  PostgresDatabase,
  REDIS_SERVER,
  uniqueRedisPrefix,
} from '../support/services';
import { request } from '../support/test-app';
import { until } from '../support/until';

const ROOT = join(__dirname, '..', '..');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  id: string;
  sentAt: number;
  doneAt?: number;
  status?: number;
  headers?: IncomingHttpHeaders;
  body?: any;
  error?: string;
}

/**
 * One request; by default on its own connection (no keep-alive), so a refused connection is
 * told apart from a cut one. Through a keep-alive `agent`, on a connection it keeps open.
 */
function send(
  base: string,
  method: string,
  path: string,
  id: string,
  headers: Record<string, string> = {},
  body?: unknown,
  agent: Agent | false = false,
): Promise<Outcome> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      `${base}${path}`,
      {
        method,
        agent,
        headers: { 'x-request-id': id, ...(payload ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({
            id,
            sentAt,
            doneAt: Date.now(),
            status: res.statusCode,
            headers: res.headers,
            body: text ? JSON.parse(text) : undefined,
          }),
        );
        res.on('error', (err: NodeJS.ErrnoException) =>
          resolve({ id, sentAt, error: `response cut: ${err.code ?? err.message}` }),
        );
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ id, sentAt, doneAt: Date.now(), error: err.code ?? err.message }),
    );
    req.end(payload);
  });
}

interface Server {
  child: ChildProcess;
  base: string;
  output(): { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; at: number }>;
}

/** The API as production runs it: its own process, started from `main.ts`, on a random port. */
async function startServer(env: Record<string, string>): Promise<Server> {
  let stdout = '';
  let stderr = '';
  const child = spawn(
    process.execPath,
    ['-r', join(__dirname, 'fixtures', 'register.js'), join(ROOT, 'apps/api/src/main.ts')],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        HOST: '127.0.0.1',
        PORT: '0',
        REDIS_URL: `redis://${REDIS_SERVER.host}:${REDIS_SERVER.port}`,
        REDIS_KEY_PREFIX: uniqueRedisPrefix(),
        STRIPE_SECRET_KEY: 'sk_test_shutdown',
        STRIPE_WEBHOOK_SECRET: 'whsec_shutdown',
        STRIPE_TIMEOUT_MS: '8000',
        RATE_LIMIT_READ: '100000',
        ...env,
      },
    },
  );
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.on('exit', (code) => resolve({ code, at: Date.now() })),
  );
  const base = await until(
    'the server to listen',
    () => {
      if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode})`);
      return /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
    },
    40000,
  ).catch((error: Error) => {
    throw new Error(`server did not start: ${error.message}\n${stdout}\n${stderr}`);
  });
  return { child, base, output: () => ({ stdout, stderr }), exited };
}

describe('graceful shutdown', () => {
  let database: PostgresDatabase;
  let db: DatabaseHandle;
  let emulator: StripeEmulator;
  let child: ChildProcess | undefined;
  let reading = false;

  beforeAll(async () => {
    database = await createPostgresDatabase();
    db = await openTestDb(database.url);
    emulator = await startStripeEmulator({ port: 0, webhookSecret: 'whsec_shutdown' });
  });
  afterAll(async () => {
    reading = false;
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await db?.close();
    await emulator?.close();
    await database?.drop();
  });

  /** Checkout sessions the emulator has been asked to create since its request log was cleared. */
  const inFlight = async () =>
    ((await request(emulator.url, 'GET', '/_emulator/requests?path=/v1/checkout/sessions')).body as any[]).filter(
      (r) => r.method === 'POST',
    ).length;

  it('fails readiness at once, answers every request that got in, completes purchases in flight, and exits 0 within the grace period', async () => {
    const key = await seedMember(db.db, 'acme', 'admin@acme.test', 'admin');
    const server = await startServer({
      DATABASE_URL: database.url,
      STRIPE_API_BASE: emulator.url,
      // Long enough for the readiness poll below to land inside it on a loaded machine.
      SHUTDOWN_DELAY_MS: '2500',
      SHUTDOWN_GRACE_MS: '10000',
    });
    ({ child } = server);
    const { base, exited } = server;
    const auth = bearer(key);
    // Create the org's Stripe customer first, so each purchase below is one slow session call.
    const warmUp = await send(base, 'POST', '/api/v1/org/acme/credits/checkout', 'warm-up', auth, {
      success_url: 'http://localhost/ok',
      cancel_url: 'http://localhost/no',
    });
    expect(warmUp.status).toBe(200);
    await request(emulator.url, 'DELETE', '/_emulator/requests');
    await request(emulator.url, 'POST', '/_emulator/faults', {
      body: { path: '/v1/checkout/sessions', method: 'POST', delay_ms: 4000 },
    });

    // Purchases in flight at SIGTERM, and a stream of reads that goes on through the shutdown.
    const purchases = Array.from({ length: 4 }, (_, i) =>
      send(
        base,
        'POST',
        '/api/v1/org/acme/credits/checkout',
        `purchase-${i}`,
        { ...auth, 'idempotency-key': `shutdown-${i}` },
        {
          success_url: 'http://localhost/ok',
          cancel_url: 'http://localhost/no',
          quantity: i + 1,
        },
      ),
    );
    const reads: Promise<Outcome>[] = [];
    reading = true;
    const readLoop = (async () => {
      for (let n = 0; reading; n++) {
        reads.push(send(base, 'GET', '/api/v1/org/acme/credits', `read-${n}`, auth));
        await sleep(25);
      }
    })();
    await until('four purchases in flight', async () => (await inFlight()) >= 4);

    const sigtermAt = Date.now();
    child.kill('SIGTERM');
    // Readiness fails at once, while requests are still being served (SHUTDOWN_DELAY_MS).
    let readiness: Outcome;
    do readiness = await send(base, 'GET', '/readyz', `readyz-${Date.now()}`);
    while (readiness.status === 200 && Date.now() - sigtermAt < 2500);
    expect({ readiness, after: Date.now() - sigtermAt }).toMatchObject({ readiness: { status: 503 } });
    expect(readiness.body).toMatchObject({ code: 503, type: 'service_unavailable_error', detail: 'Shutting down' });

    const exit = await exited;
    reading = false;
    await readLoop;
    const { stdout, stderr } = server.output();
    expect({ code: exit.code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(exit.at - sigtermAt).toBeLessThan(10000);

    // Every purchase in flight completed: answered, recorded, its key completed.
    const done = await Promise.all(purchases);
    for (const purchase of done)
      expect(purchase).toMatchObject({ status: 200, body: { session_id: expect.stringMatching(/^cs_/) } });
    const rows = await db.db.select().from(checkoutSessions);
    expect(rows.map((r) => r.id).sort()).toEqual(
      [warmUp.body.session_id, ...done.map((p) => p.body.session_id)].sort(),
    );
    expect((await db.db.select().from(idempotencyKeys)).map((k) => k.state)).toEqual([
      'completed',
      'completed',
      'completed',
      'completed',
    ]);
    expect(await inFlight()).toBe(4);

    // Every request the server took in was answered, with what the server logged; the others
    // never got in (connection refused after the listener closed), none was cut off.
    const logs = parseLogs(stdout.split('\n'));
    const served = new Map(logs.filter((l) => l.msg === 'request completed').map((l) => [l.request_id, l.status]));
    const outcomes = await Promise.all(reads);
    for (const outcome of outcomes) {
      if (outcome.status !== undefined)
        expect({ id: outcome.id, status: outcome.status }).toEqual({ id: outcome.id, status: served.get(outcome.id) });
      else {
        expect(['ECONNREFUSED', 'ECONNRESET']).toContain(outcome.error);
        expect(served.has(outcome.id)).toBe(false);
      }
    }
    expect(outcomes.filter((o) => o.error?.startsWith('response cut'))).toEqual([]);
    // Reads sent after SIGTERM were still served during the delay, and some arrived after the listener closed.
    expect(outcomes.some((o) => o.sentAt > sigtermAt && o.status === 200)).toBe(true);
    const refused = outcomes.filter((o) => o.error === 'ECONNREFUSED');
    expect(refused.length).toBeGreaterThan(0);
    // The listener closed while the purchases were still running: they finished during the drain.
    expect(Math.min(...refused.map((o) => o.doneAt!))).toBeLessThan(Math.min(...done.map((p) => p.doneAt!)));
    expect(logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^SIGTERM received/), 'stopped']),
    );
  });

  it('behind a load balancer: answers requests in flight with Connection: close, closes idle keep-alive connections, and exits 0 once they are answered', async () => {
    const key = await seedMember(db.db, 'globex', 'admin@globex.test', 'admin');
    await request(emulator.url, 'DELETE', '/_emulator/faults');
    const delayMs = 1000;
    const holdMs = 3000;
    const server = await startServer({
      DATABASE_URL: database.url,
      STRIPE_API_BASE: emulator.url,
      SHUTDOWN_DELAY_MS: String(delayMs),
      SHUTDOWN_GRACE_MS: '10000',
    });
    ({ child } = server);
    const { base, exited } = server;
    // A load balancer keeps its connections open between requests.
    const busy = new Agent({ keepAlive: true });
    const idle = new Agent({ keepAlive: true });
    let silent: Socket | undefined;
    try {
      const auth = bearer(key);
      const checkout = (id: string, quantity?: number) =>
        send(
          base,
          'POST',
          '/api/v1/org/globex/credits/checkout',
          id,
          { ...auth, 'idempotency-key': id },
          { success_url: 'http://localhost/ok', cancel_url: 'http://localhost/no', quantity },
          busy,
        );
      // The org's Stripe customer first, so each purchase below is one held session call.
      expect(await checkout('keep-alive-warm-up')).toMatchObject({
        status: 200,
        headers: { connection: 'keep-alive' },
      });
      await request(emulator.url, 'DELETE', '/_emulator/requests');
      await request(emulator.url, 'POST', '/_emulator/faults', {
        body: { path: '/v1/checkout/sessions', method: 'POST', delay_ms: holdMs },
      });
      const purchases = [1, 2, 3].map((quantity) => checkout(`keep-alive-purchase-${quantity}`, quantity));
      await until('every purchase in flight', async () => (await inFlight()) >= purchases.length);
      // Connections that carry nothing at SIGTERM: one kept open after an answer, one never used.
      expect(await send(base, 'GET', '/healthz', 'keep-alive-idle', {}, undefined, idle)).toMatchObject({
        status: 200,
        headers: { connection: 'keep-alive' },
      });
      const unused = connect(Number(new URL(base).port), '127.0.0.1');
      silent = unused.on('error', () => undefined);
      await new Promise((resolve) => unused.once('connect', resolve));

      const sigtermAt = Date.now();
      child.kill('SIGTERM');
      const answered = await Promise.all(purchases);
      const exit = await exited;
      expect({
        answers: answered.map((purchase) => [purchase.status, purchase.headers?.connection]),
        code: exit.code,
        stderr: server.output().stderr,
      }).toEqual({ answers: purchases.map(() => [200, 'close']), code: 0, stderr: '' });
      for (const purchase of answered) expect(purchase.body.session_id).toMatch(/^cs_/);
      expect(exit.at - sigtermAt).toBeLessThan(delayMs + holdMs + 1000);
    } finally {
      busy.destroy();
      idle.destroy();
      silent?.destroy();
    }
  });
});
