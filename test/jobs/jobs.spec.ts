/**
 * The job queue on the application's database: PGlite by default, PostgreSQL when
 * TEST_DATABASE_URL is set (`npm run test:postgres`). Two instances side by side are in
 * jobs.postgres.spec.ts (PGlite belongs to one process).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { organizations, rows } from '@credits/database';
import { defineJob, type JobContext, jobSend, queueDatabase } from '@credits/jobs';
import { createTestDatabaseUrl, type TestDatabase } from '../support/database';
import {
  type Deferred,
  deferred,
  fetchableNow,
  jobStates,
  type QueueApp,
  sleep,
  startQueueApp,
  until,
} from './support';

const echo = defineJob<{ text: string }>({ name: 'echo' });
const flaky = defineJob<{ failures: number }>({
  name: 'flaky',
  retry: { limit: 3, delaySeconds: 1, backoff: true },
});
const doomed = defineJob<object>({ name: 'doomed', retry: { limit: 1, delaySeconds: 0, backoff: false } });
const perOrg = defineJob<{ org: string; run: string }>({
  name: 'per-org',
  singleton: { policy: 'singleton', key: (data) => data.org },
  concurrency: 3,
});
const coalesced = defineJob<{ org: string; run: string }>({
  name: 'coalesced',
  singleton: { policy: 'stately', key: (data) => data.org },
});
const outbox = defineJob<{ text: string }>({ name: 'outbox' });
const slowToExpire = defineJob<object>({
  name: 'slow-to-expire',
  expireInSeconds: 1,
  retry: { limit: 1, delaySeconds: 0, backoff: false },
});
const batched = defineJob<{ n: number; failFirst?: boolean }>({
  name: 'batched',
  batchSize: 3,
  retry: { limit: 1, delaySeconds: 1, backoff: false },
});
const everyMinute = defineJob<object>({ name: 'every-minute', schedule: { cron: '* * * * *', data: {} } });

describe('JobsModule', () => {
  let database: TestDatabase;
  let queue: QueueApp;
  const echoed: Array<{ data: { text: string }; context: JobContext }> = [];
  const flakyStarts: Array<{ at: number; attempt: number }> = [];
  let doomedRuns = 0;
  const started: string[] = [];
  const gates = new Map<string, Deferred>();
  const gate = (run: string) => gates.get(run)?.promise;
  const outboxed: string[] = [];
  const expiring: Array<{ jobId: string; attempt: number; event: string }> = [];
  const secondAttempt = deferred();
  let scheduledRuns = 0;
  const batchedRuns: Array<{ n: number; attempt: number }> = [];
  const allThreeStarted = deferred();

  beforeAll(async () => {
    database = await createTestDatabaseUrl();
    queue = await startQueueApp({ url: database.url }, (jobs) => {
      jobs.handle(echo, async (data, context) => void echoed.push({ data, context }));
      jobs.handle(flaky, async (data, context) => {
        flakyStarts.push({ at: Date.now(), attempt: context.attempt });
        if (context.attempt <= data.failures) throw new Error(`failure ${context.attempt}`);
      });
      jobs.handle(doomed, async () => {
        doomedRuns++;
        throw new Error('always');
      });
      for (const job of [perOrg, coalesced]) {
        jobs.handle(job, async ({ run }) => {
          started.push(run);
          await gate(run);
        });
      }
      jobs.handle(outbox, async ({ text }) => void outboxed.push(text));
      jobs.handle(slowToExpire, async (_data, { jobId, attempt, signal }) => {
        expiring.push({ jobId, attempt, event: 'started' });
        if (attempt > 1) return secondAttempt.resolve();
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
        expiring.push({ jobId, attempt, event: 'aborted' });
        await secondAttempt.promise; // a handler that does not stop at once
        expiring.push({ jobId, attempt, event: 'finished' });
      });
      jobs.handle(batched, async ({ n, failFirst }, { attempt }) => {
        batchedRuns.push({ n, attempt });
        if (batchedRuns.length === 3) allThreeStarted.resolve();
        await allThreeStarted.promise;
        if (failFirst && attempt === 1) throw new Error(`job ${n} fails its first attempt`);
      });
      jobs.handle(everyMinute, async () => void scheduledRuns++);
    });
  });
  afterAll(async () => {
    for (const open of gates.values()) open.resolve();
    await queue?.close();
    await database?.drop();
  });

  it('runs a sent job with its payload', async () => {
    const id = await queue.jobs.send(echo, { text: 'hello' });
    await until('the echo job ran', () => echoed.length === 1);
    expect(echoed[0].data).toEqual({ text: 'hello' });
    expect(echoed[0].context).toMatchObject({ jobId: id, attempt: 1 });
  });

  it('retries a failing job with exponential backoff, then completes it', async () => {
    await queue.jobs.send(flaky, { failures: 2 });
    await until('the third attempt', async () => (await jobStates(queue.handle, 'flaky'))[0] === 'completed');
    expect(flakyStarts.map((s) => s.attempt)).toEqual([1, 2, 3]);
    // Retry n waits at least delay × 2^(n-1): 1 s, then 2 s.
    expect(flakyStarts[1].at - flakyStarts[0].at).toBeGreaterThanOrEqual(1000);
    expect(flakyStarts[2].at - flakyStarts[1].at).toBeGreaterThanOrEqual(2000);
  });

  it('gives up after its retry limit: run limit + 1 times, the job ends failed', async () => {
    await queue.jobs.send(doomed, {});
    await until('the job failed for good', async () => (await jobStates(queue.handle, 'doomed'))[0] === 'failed');
    expect(doomedRuns).toBe(2);
  });

  it('runs one job per singleton key at a time, while other keys run alongside', async () => {
    for (const run of ['a1', 'b1', 'a2']) gates.set(run, deferred());
    await queue.jobs.send(perOrg, { org: 'a', run: 'a1' });
    await until('a1 started', () => started.includes('a1'));
    await queue.jobs.send(perOrg, { org: 'b', run: 'b1' });
    await until('b1 started beside a1', () => started.includes('b1'));

    await queue.jobs.send(perOrg, { org: 'a', run: 'a2' });
    // A worker that asks now (as the idle one does at every poll) is handed nothing: a2 waits.
    expect(await fetchableNow(queue.handle, 'per-org')).toEqual([]);
    expect(started).not.toContain('a2');

    gates.get('a1')!.resolve();
    await until('a2 started once a1 ended', () => started.includes('a2'));
    gates.get('b1')!.resolve();
    gates.get('a2')!.resolve();
  });

  it('stately: one running and one queued per key; a further send is dropped', async () => {
    for (const run of ['c1', 'c2']) gates.set(run, deferred());
    expect(await queue.jobs.send(coalesced, { org: 'c', run: 'c1' })).toEqual(expect.any(String));
    await until('c1 started', () => started.includes('c1'));
    expect(await queue.jobs.send(coalesced, { org: 'c', run: 'c2' })).toEqual(expect.any(String));
    expect(await queue.jobs.send(coalesced, { org: 'c', run: 'c3' })).toBeNull();

    gates.get('c1')!.resolve();
    await until('c2 ran after c1', () => started.includes('c2'));
    gates.get('c2')!.resolve();
    await until('both completed', async () => {
      const states = await jobStates(queue.handle, 'coalesced');
      return states.length === 2 && states.every((state) => state === 'completed');
    });
    expect(started).not.toContain('c3');
  });

  it("writes a job in the caller's transaction: rolled back it never exists, committed it runs", async () => {
    await expect(
      queue.handle.db.transaction(async (tx) => {
        await tx.insert(organizations).values({ slug: 'rolled-back', name: 'x' });
        await queue.jobs.send(outbox, { text: 'rolled back' }, { tx });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await queue.handle.db.transaction(async (tx) => {
      await tx.insert(organizations).values({ slug: 'committed', name: 'x' });
      await queue.jobs.send(outbox, { text: 'committed' }, { tx });
    });

    // Only one job was ever written, and it ran: pg-boss marks it completed once it returned.
    await until('the committed job completed', async () =>
      (await jobStates(queue.handle, 'outbox')).includes('completed'),
    );
    expect(await jobStates(queue.handle, 'outbox')).toEqual(['completed']);
    expect(outboxed).toEqual(['committed']);
  });

  it('writes several jobs in one statement in a transaction, as send would; one withdrawn there never runs', async () => {
    let statements = 0;
    const ids = await queue.handle.db.transaction(async (tx) => {
      const sent = await queue.jobs.send(echo, { text: 'sent alone' }, { tx });
      // The statements sendAll sends through the transaction: one, however many jobs.
      const counted = new Proxy(tx, {
        get: (target, name, receiver) =>
          name === 'execute'
            ? (...args: Parameters<typeof tx.execute>) => {
                statements++;
                return target.execute(...args);
              }
            : Reflect.get(target, name, receiver),
      });
      const [together, withdrawn] = await queue.jobs.sendAll(
        [jobSend(echo, { text: 'sent together' }), jobSend(echo, { text: 'withdrawn' })],
        { tx: counted },
      );
      expect(statements).toBe(1);
      await queue.jobs.withdraw(echo, withdrawn, { tx });
      return [sent, together];
    });
    await until('both jobs ran', () =>
      ['sent alone', 'sent together'].every((text) => echoed.some((e) => e.data.text === text)),
    );
    const written = await rows<Record<string, unknown>>(
      queue.handle.db,
      sql`select data->>'text' as text, retry_limit, retry_delay, retry_backoff, expire_in::text as expire_in,
                 round(extract(epoch from keep_until - created_on) / 3600) as keep_hours
          from pgboss.job where name = 'echo' and data->>'text' in ('sent alone', 'sent together', 'withdrawn')
          order by text`,
    );
    // The withdrawn job is gone, so it can never run; the two others were written alike.
    expect(written.map((row) => row.text)).toEqual(['sent alone', 'sent together']);
    const { text: _alone, ...alone } = written[0];
    const { text: _together, ...together } = written[1];
    expect(together).toEqual(alone);
    expect(ids).toHaveLength(2);
    await expect(
      queue.handle.db.transaction((tx) => queue.jobs.sendAll([jobSend(perOrg, { org: 'o', run: 'r' })], { tx })),
    ).rejects.toThrow('a singleton job is sent alone');
  });

  it('takes batchSize jobs per fetch and runs them together; one that fails is retried alone', async () => {
    // One worker: the three can only be running at once (each waits for the others to start)
    // if one fetch took all three.
    await queue.handle.db.transaction(async (tx) => {
      await queue.jobs.sendAll(
        [jobSend(batched, { n: 1 }), jobSend(batched, { n: 2, failFirst: true }), jobSend(batched, { n: 3 })],
        { tx },
      );
    });
    await until('the failed job ran again', () => batchedRuns.some((run) => run.attempt === 2));
    await until('every batched job completed', async () => {
      const states = await jobStates(queue.handle, 'batched');
      return states.length === 3 && states.every((state) => state === 'completed');
    });
    expect(
      batchedRuns
        .slice(0, 3)
        .map((run) => run.n)
        .sort(),
    ).toEqual([1, 2, 3]);
    expect(batchedRuns.slice(3)).toEqual([{ n: 2, attempt: 2 }]);
    expect(() => defineJob({ name: 'batched-at-once', batchSize: 2, retry: { delaySeconds: 0 } })).toThrow(
      'waits at least 1 s before a retry',
    );
  });

  it('runs an attempt that outlives expireInSeconds again, while the first still runs (handlers must be idempotent)', async () => {
    const id = await queue.jobs.send(slowToExpire, {});
    await until('the first attempt finished', () => expiring.some((e) => e.event === 'finished'));
    expect(expiring).toEqual([
      { jobId: id, attempt: 1, event: 'started' },
      { jobId: id, attempt: 1, event: 'aborted' },
      { jobId: id, attempt: 2, event: 'started' },
      { jobId: id, attempt: 1, event: 'finished' },
    ]);
  });

  it('runs a scheduled job', async () => {
    await until('the every-minute job ran', () => scheduledRuns >= 1);
  });

  it('keeps the connection usable after a failed multi-statement command', async () => {
    // pg-boss sends its schema and maintenance as `BEGIN; …; COMMIT;` blocks.
    await expect(queueDatabase(queue.handle).executeSql('BEGIN; select 1/0; COMMIT;', [])).rejects.toThrow(
      'division by zero',
    );
    await expect(queue.handle.db.select().from(organizations)).resolves.toEqual(expect.any(Array));
  });

  it('refuses to send a job that this process does not declare', async () => {
    const stranger = defineJob<object>({ name: 'stranger' });
    await expect(queue.jobs.send(stranger, {})).rejects.toThrow("job 'stranger' is not declared here");
  });
});

describe('JobsModule backlog', () => {
  it('a worker that found a job looks for the next at once, not after its polling interval', async () => {
    // One worker, polling every 5 min: only a worker that goes on at once gets through a
    // backlog. pg-boss waited the whole interval after every job, so a queue drained at one job
    // per interval (payment-details after a burst of purchases: 0.5 a second).
    const backlog = defineJob<{ n: number }>({ name: 'backlog' });
    const ran: number[] = [];
    const database = await createTestDatabaseUrl();
    const queue = await startQueueApp(
      { url: database.url },
      (jobs) => jobs.handle(backlog, async ({ n }) => void ran.push(n)),
      { pollingIntervalSeconds: 300 },
    );
    try {
      // Written in a transaction: no worker is woken for them.
      await queue.handle.db.transaction(async (tx) => {
        for (let n = 1; n <= 5; n++) await queue.jobs.send(backlog, { n }, { tx });
      });
      // Sent outside one, this wakes the worker once.
      await queue.jobs.send(backlog, { n: 6 });
      await until('the whole backlog run', () => ran.length === 6, 60_000);
      expect([...ran].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await queue.close();
      await database.drop();
    }
  });
});

describe('JobsModule lifecycle', () => {
  /**
   * A database whose outcome can be read after the queue's application closed it: on PGlite a
   * data directory (an in-memory one ends with its application), on PostgreSQL a test database.
   */
  async function lastingDatabase() {
    const database = await createTestDatabaseUrl();
    const dir = mkdtempSync(join(tmpdir(), 'credits-jobs-'));
    return {
      target: database.url === 'memory://' ? { url: '', dataDir: dir } : { url: database.url },
      remove: async () => {
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  /** The states of the jobs named `name`, as an app started again on `target` finds them. */
  async function statesOnReopen(target: Parameters<typeof startQueueApp>[0], name: string) {
    const reopened = await startQueueApp(target, () => undefined);
    try {
      return await jobStates(reopened.handle, name);
    } finally {
      await reopened.close();
    }
  }

  it('with no job declared, starts nothing: not even its schema', async () => {
    const database = await createTestDatabaseUrl();
    const queue = await startQueueApp({ url: database.url }, () => undefined);
    try {
      const result = (await queue.handle.db.execute(
        sql`select to_regclass('pgboss.version') as version`,
      )) as unknown as {
        rows: Array<{ version: string | null }>;
      };
      expect(result.rows).toEqual([{ version: null }]);
    } finally {
      await queue.close();
      await database.drop();
    }
  });

  it('a job that outlives the stop and ignores its abort is left for a retry, its late outcome sent before the database closes', async () => {
    const { target, remove } = await lastingDatabase();
    const stubborn = defineJob<object>({ name: 'stubborn' });
    const running = deferred();
    const aborted = deferred();
    const finished = deferred();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    // The stop gives up on the job after its timeout (pg-boss fails it, to be retried) and
    // aborts it; the handler finishes a moment later all the same (a call that takes no
    // signal). pg-boss then sends the job's outcome without waiting for the write: the
    // database must still be open for it (a closed pool rejects it, unhandled).
    const queue = await startQueueApp(
      target,
      (jobs) =>
        jobs.handle(stubborn, async (_data, { signal }) => {
          running.resolve();
          signal.addEventListener('abort', () => aborted.resolve());
          await aborted.promise;
          await sleep(200);
          finished.resolve();
        }),
      { shutdownTimeoutMs: 1000 },
    );
    try {
      await queue.jobs.send(stubborn, {});
      await running.promise;
      await queue.close();
      // Drained: the handler has finished and pg-boss has had turns to send its outcome.
      await finished.promise;
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);

      expect(await statesOnReopen(target, 'stubborn')).toEqual(['retry']);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      aborted.resolve();
      await remove();
    }
  });

  it('stops after the running job has finished, and that job is completed', async () => {
    const { target, remove } = await lastingDatabase();
    const slow = defineJob<object>({ name: 'slow' });
    const running = deferred();
    const release = deferred();
    const events: string[] = [];
    const queue = await startQueueApp(target, (jobs) =>
      jobs.handle(slow, async () => {
        running.resolve();
        await release.promise;
        events.push('job finished');
      }),
    );
    try {
      await queue.jobs.send(slow, {});
      await running.promise;
      const closed = queue.close().then(() => events.push('stopped'));
      await sleep(300);
      expect(events).toEqual([]);
      release.resolve();
      await closed;
      expect(events).toEqual(['job finished', 'stopped']);

      expect(await statesOnReopen(target, 'slow')).toEqual(['completed']);
    } finally {
      release.resolve();
      await remove();
    }
  });
});
