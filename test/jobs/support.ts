import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { sql } from 'drizzle-orm';
import { DATABASE_HANDLE, type DatabaseHandle, DatabaseModule } from '@credits/database';
import { JobsModule, type JobsModuleOptions, JobsService } from '@credits/jobs';

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

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The states of a job's rows in pg-boss's table (one row per job; the archive is not read). */
export async function jobStates(handle: DatabaseHandle, name: string): Promise<string[]> {
  const result = (await handle.db.execute(
    sql`select state::text as state from pgboss.job where name = ${name} order by created_on`,
  )) as unknown as { rows: Array<{ state: string }> };
  return result.rows.map((row) => row.state);
}

export { until } from '../support/until';
