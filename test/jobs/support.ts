import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { sql } from 'drizzle-orm';
import PgBoss from 'pg-boss';
import { DATABASE_HANDLE, type DatabaseHandle, DatabaseModule } from '@credits/database';
import { JobsModule, type JobsModuleOptions, JobsService, queueDatabase } from '@credits/jobs';
import { until } from '../support/until';

export interface QueueApp {
  app: INestApplicationContext;
  jobs: JobsService;
  handle: DatabaseHandle;
  close(): Promise<void>;
}

/**
 * One instance of the service as far as jobs go: the database module, the jobs module, and a
 * feature provider declaring handlers while the application initialises (as features do).
 */
export async function startQueueApp(
  database: { url: string; dataDir?: string },
  declare: (jobs: JobsService) => void,
  options: JobsModuleOptions = {},
): Promise<QueueApp> {
  const { url, dataDir = 'unused' } = database;
  @Module({
    imports: [
      DatabaseModule.forRootAsync({ useFactory: () => ({ url, dataDir }) }),
      JobsModule.forRoot({ pollingIntervalSeconds: 0.5, scheduleCheckSeconds: 1, ...options }),
    ],
    providers: [
      {
        provide: 'declarations',
        inject: [JobsService],
        useFactory: (jobs: JobsService) => {
          declare(jobs);
          return true;
        },
      },
    ],
  })
  class QueueAppModule {}

  const app = await NestFactory.createApplicationContext(QueueAppModule, { logger: false });
  return {
    app,
    jobs: app.get(JobsService),
    handle: app.get<DatabaseHandle>(DATABASE_HANDLE),
    close: () => app.close(),
  };
}

/** A promise to settle from outside: a gate a handler waits on, or a signal that it ran. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Waits out a time (a clock's minute turning, a job left running): never a proof that something did not happen. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The states of a job's rows in pg-boss's table (one row per job; the archive is not read). */
export async function jobStates(handle: DatabaseHandle, name: string): Promise<string[]> {
  const result = (await handle.db.execute(
    sql`select state::text as state from pgboss.job where name = ${name} order by created_on`,
  )) as unknown as { rows: Array<{ state: string }> };
  return result.rows.map((row) => row.state);
}

/**
 * pg-boss's own view of the queues on `handle`'s database, through its public API: a queue
 * object that is never started (no worker, schedule or maintenance of its own).
 */
function inspector(handle: DatabaseHandle): PgBoss {
  return new PgBoss({ db: queueDatabase(handle) });
}

/**
 * Waits until no job of `names` is queued, waiting to be retried or running: every job of
 * theirs has completed (or failed for good), so none of them can run again. How a test proves
 * that something did not happen (a second run, a second delivery) instead of sleeping.
 */
export async function drained(handle: DatabaseHandle, ...names: string[]): Promise<void> {
  const boss = inspector(handle);
  // A queue that does not exist (a renamed job) has no jobs either: refuse it, not pass.
  await queuesExist(boss, names);
  // Upstream queues first (dispatch before delivery, send-it before the job it sends): a job
  // that is still to be sent is counted before its queue is looked at.
  await until(`the queues ${names.join(', ')} drained`, async () => {
    for (const name of names) if ((await boss.getQueueSize(name, { before: 'completed' })) !== 0) return false;
    return true;
  });
}

/**
 * What a worker of `name` is handed if it asks now (pg-boss's fetch, as every worker polls):
 * the ids of the jobs it would run. A job held back by its queue's policy is not among them.
 */
export async function fetchableNow(handle: DatabaseHandle, name: string): Promise<string[]> {
  const boss = inspector(handle);
  // pg-boss's fetch answers [] on any error (a policy's unique index refusing a job is how it
  // holds one back): prove the queue is there and answering, so [] means held back.
  await queuesExist(boss, [name]);
  return (await boss.fetch(name)).map((job) => job.id);
}

async function queuesExist(boss: PgBoss, names: string[]): Promise<void> {
  for (const name of names) if (!(await boss.getQueue(name))) throw new Error(`no pg-boss queue "${name}"`);
}

/**
 * Waits until pg-boss has checked the schedules `count` more times, on whichever instance:
 * each check that turns due schedules into jobs records its time in pg-boss's version table.
 */
export async function scheduleChecks(handle: DatabaseHandle, count: number): Promise<void> {
  const lastCheck = async () => {
    const result = (await handle.db.execute(sql`select cron_on::text as cron_on from pgboss.version`)) as unknown as {
      rows: Array<{ cron_on: string | null }>;
    };
    return result.rows[0]?.cron_on ?? null;
  };
  let last = await lastCheck();
  let seen = 0;
  await until(`${count} more schedule checks`, async () => {
    const now = await lastCheck();
    if (now !== last) [last, seen] = [now, seen + 1];
    return seen >= count;
  });
}

/** pg-boss's own queue through which a check sends a due schedule's job (once per minute). */
export const SCHEDULE_SEND_QUEUE = '__pgboss__send-it';

export { until };
