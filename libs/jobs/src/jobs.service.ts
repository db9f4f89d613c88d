import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import PgBoss from 'pg-boss';
import { type DatabaseHandle, type DbTransaction, InjectDatabaseHandle, isDeadlock } from '@credits/database';
import type { AnyJobDefinition, JobDefinition } from './job-definition';
import { queueDatabase, transactionDatabase } from './queue-database';

export const JOBS_OPTIONS = Symbol('JOBS_OPTIONS');

export interface JobsModuleOptions {
  /** How often an idle worker asks for a job. Default 2 s; at least 0.5 s. */
  pollingIntervalSeconds?: number;
  /** How often schedules are checked, and due ones turned into jobs (pg-boss: 30 s and 5 s). */
  scheduleCheckSeconds?: number;
  /** false: this process sends jobs but runs none (no workers, schedules or maintenance). */
  work?: boolean;
  /** How long stopping waits for running jobs before failing them (they are retried). Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Jobs this process sends without handling them. */
  jobs?: readonly AnyJobDefinition[];
  /**
   * Days a finished job (completed, failed for good, cancelled) is kept: pg-boss's maintenance
   * moves it to its archive (after 12 h) and deletes it from there after this. Default 7.
   */
  finishedJobDays?: number;
}

export interface JobContext {
  /** The same on every attempt: a key for making the job's effect idempotent. */
  jobId: string;
  /** 1 on the first run. */
  attempt: number;
  /** Aborted once the attempt has run `expireInSeconds` (it is then retried) or when stopping. */
  signal: AbortSignal;
}

export type JobHandler<TData> = (data: TData, context: JobContext) => Promise<void>;

/** One job of several written together (`JobsService.sendAll`). */
export interface JobSend<TData extends object = object> {
  job: JobDefinition<TData>;
  data: TData;
}

/** A `JobSend`, its payload checked against its job's type. */
export function jobSend<TData extends object>(job: JobDefinition<TData>, data: TData): JobSend {
  return { job: job as unknown as JobDefinition<object>, data };
}

export interface SendOptions {
  /** Write the job in this transaction: it exists if, and only if, the transaction commits. */
  tx?: DbTransaction;
  /** Run no sooner than this many seconds from now. */
  startAfterSeconds?: number;
}

/**
 * The job queue (pg-boss 10) on the application's own database, PGlite or PostgreSQL. Declare
 * handlers before the application bootstraps (`onModuleInit`); the queue starts once every
 * module is initialised, and stops before the database closes. With nothing declared it does
 * nothing at all, not even create its schema.
 */
@Injectable()
export class JobsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Jobs');
  private readonly declared = new Map<string, AnyJobDefinition>();
  private readonly handlers = new Map<string, JobHandler<object>>();
  private readonly workers = new Map<string, string[]>();
  private readonly running = new Set<AbortController>();
  /** Batches handed to handlers and pg-boss's statements, under way: stopping waits for them. */
  private readonly underWay = new Set<Promise<unknown>>();
  private started?: Promise<PgBoss>;
  private stopping = false;

  constructor(
    @InjectDatabaseHandle() private readonly database: DatabaseHandle,
    @Inject(JOBS_OPTIONS) private readonly options: JobsModuleOptions,
  ) {
    for (const job of options.jobs ?? []) this.declare(job);
  }

  /** Runs `handler` for every job of this kind, on this instance and every other one. */
  handle<TData extends object>(job: JobDefinition<TData>, handler: JobHandler<TData>): void {
    if (this.started) throw new Error(`job '${job.name}': declare handlers before the application bootstraps`);
    if (this.handlers.has(job.name)) throw new Error(`job '${job.name}' already has a handler`);
    this.declare(job);
    this.handlers.set(job.name, handler as JobHandler<object>);
  }

  /**
   * Queues a job; answers its id, or null when its singleton policy dropped it (one is already
   * queued for the key). Outside a transaction a worker of this instance is woken at once;
   * a job written in a transaction waits for the next poll after the commit.
   */
  async send<TData extends object>(
    job: JobDefinition<TData>,
    data: TData,
    options: SendOptions = {},
  ): Promise<string | null> {
    const db = options.tx ? transactionDatabase(options.tx) : undefined;
    const { boss, id } = await this.sendThrough(job, data, options.startAfterSeconds, db);
    if (id && !options.tx) for (const worker of this.workers.get(job.name) ?? []) boss.notifyWorker(worker);
    return id;
  }

  /**
   * Writes several jobs in `tx` in one statement (pg-boss's `insert`), each as `send` would;
   * answers their ids, in order. A job with a singleton policy is refused: `insert` drops a
   * job its key already holds without saying which.
   */
  async sendAll(sends: readonly JobSend[], options: { tx: DbTransaction }): Promise<string[]> {
    if (sends.length === 0) return [];
    let boss: PgBoss | undefined;
    const jobs: PgBoss.JobInsert[] = [];
    for (const { job, data } of sends) {
      boss = await this.ready(job, data);
      if (job.singleton) throw new Error(`job '${job.name}': a singleton job is sent alone (JobsService.send)`);
      const { retryLimit, retryDelay, retryBackoff, expireInSeconds } = jobOptions(job, data);
      jobs.push({ id: randomUUID(), name: job.name, data, retryLimit, retryDelay, retryBackoff, expireInSeconds });
    }
    // Kept as long as `send` keeps it: the queue was created with the job's retention.
    await boss!.insert(jobs, { db: transactionDatabase(options.tx) });
    return jobs.map((job) => job.id!);
  }

  /**
   * Deletes jobs of one kind written in `tx` that should not run after all (what caused them
   * wrote nothing): they are gone when `tx` commits, as if never sent.
   */
  async withdraw(job: AnyJobDefinition, ids: string | string[], options: { tx: DbTransaction }): Promise<void> {
    const boss = await this.ready(job, {});
    await boss.deleteJob(job.name, typeof ids === 'string' ? [ids] : ids, { db: transactionDatabase(options.tx) });
  }

  private async sendThrough<TData extends object>(
    job: JobDefinition<TData>,
    data: TData,
    startAfterSeconds: number | undefined,
    db: PgBoss.Db | undefined,
  ): Promise<{ boss: PgBoss; id: string | null }> {
    const boss = await this.ready(job, data);
    const id = await boss.send(job.name, data, { ...jobOptions(job, data), startAfter: startAfterSeconds, db });
    return { boss, id };
  }

  /** The queue, once `job` may be sent with `data` here. */
  private ready(job: AnyJobDefinition, data: object): Promise<PgBoss> {
    if (this.declared.get(job.name) !== job) {
      throw new Error(
        `job '${job.name}' is not declared here: give it a handler (JobsService.handle) or list it in JobsModule.forRoot({ jobs })`,
      );
    }
    if (!this.started) throw new Error(`job '${job.name}': the queue starts when the application bootstraps`);
    if (Array.isArray(data)) throw new Error(`job '${job.name}': the payload is an object, not an array`);
    return this.started;
  }

  onApplicationBootstrap(): Promise<unknown> | undefined {
    if (this.declared.size === 0) return undefined;
    this.started = this.start();
    return this.started;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    // A queue that failed to start failed the application's start: nothing to stop.
    const boss = await this.started?.catch(() => undefined);
    if (!boss) return;
    const timeout = this.options.shutdownTimeoutMs ?? 10_000;
    await boss.stop({ graceful: true, wait: true, close: false, timeout });
    for (const attempt of this.running) attempt.abort(new Error('the job queue stopped'));
    // An aborted handler may still finish (a call that takes no signal), and pg-boss writes a
    // finished job's outcome without waiting for the write: the database must not close under
    // it (the write would meet a closed pool: an unhandled rejection, and the outcome lost).
    await this.settle(timeout);
  }

  /** Waits, `timeoutMs` at most, until no batch and no statement of the queue is under way. */
  private async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      while (this.underWay.size > 0 && Date.now() < deadline) {
        const timeout = new Promise((resolve) => (timer = setTimeout(resolve, deadline - Date.now())));
        await Promise.race([Promise.allSettled([...this.underWay]), timeout]);
        clearTimeout(timer);
        // A batch that settled has pg-boss send its outcome a few promise turns later.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** The queue's database, each statement counted as under way until it settles. */
  private tracked(db: PgBoss.Db): PgBoss.Db {
    return { executeSql: (text, values) => this.track(db.executeSql(text, values)) };
  }

  /** `work`, counted as under way until it settles. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.underWay.add(work);
    const done = () => this.underWay.delete(work);
    work.then(done, done);
    return work;
  }

  private declare(job: AnyJobDefinition): void {
    const known = this.declared.get(job.name);
    if (known && known !== job) throw new Error(`two different jobs are named '${job.name}'`);
    this.declared.set(job.name, job);
  }

  private async start(): Promise<PgBoss> {
    const work = this.options.work ?? true;
    const polling = this.options.pollingIntervalSeconds ?? 2;
    const boss = await this.install(work, polling);
    if (!work) return boss;
    for (const job of this.declared.values()) {
      if (job.schedule) await schedule(boss, job);
      else if (this.handlers.has(job.name)) await boss.unschedule(job.name);
    }
    for (const [name, handler] of this.handlers) {
      const job = this.declared.get(name)!;
      const ids: string[] = [];
      for (let i = 0; i < job.concurrency; i++) {
        // pg-boss 10 waits a whole polling interval after every fetch, even one that found a
        // job, so a worker ran at most one job per interval (0.5 a second at 2 s: a backlog of
        // payment-details jobs after a burst of purchases took hours). A worker that found a
        // job looks again at once; only an empty fetch waits.
        const worker: { id?: string } = {};
        worker.id = await boss.work<object>(
          name,
          {
            pollingIntervalSeconds: Math.min(job.pollingIntervalSeconds ?? polling, polling),
            batchSize: job.batchSize,
            includeMetadata: true,
          },
          (batch) =>
            this.track(
              this.runBatch(boss, job, handler, batch).finally(() => {
                if (worker.id !== undefined && !this.stopping) boss.notifyWorker(worker.id);
              }),
            ),
        );
        ids.push(worker.id);
      }
      this.workers.set(name, ids);
    }
    return boss;
  }

  /**
   * A queue with its schema and every declared queue in place. Instances starting together on
   * one PostgreSQL create pg-boss's schema and queues at once, and PostgreSQL may answer one of
   * them "deadlock detected" (40P01), having rolled its statement back: that instance tries
   * again on a new queue object (creating is idempotent), a few times, after a short random pause.
   */
  private async install(work: boolean, polling: number): Promise<PgBoss> {
    const scheduleCheck = this.options.scheduleCheckSeconds;
    for (let attempt = 1; ; attempt++) {
      const boss = new PgBoss({
        db: this.tracked(queueDatabase(this.database)),
        pollingIntervalSeconds: polling,
        schedule: work && [...this.declared.values()].some((job) => job.schedule),
        supervise: work,
        deleteAfterDays: this.options.finishedJobDays ?? 7,
        ...(scheduleCheck && { cronMonitorIntervalSeconds: scheduleCheck, cronWorkerIntervalSeconds: scheduleCheck }),
      });
      boss.on('error', (err) => this.logger.error({ msg: `job queue: ${err.message}`, err }));
      try {
        await boss.start();
        for (const job of this.declared.values()) {
          // A queue's settings are fixed when it is created; carry changed definitions over.
          await boss.createQueue(job.name, queueOptions(job));
          await boss.updateQueue(job.name, queueOptions(job));
        }
        return boss;
      } catch (error) {
        await boss.stop({ graceful: false, close: false, wait: true }).catch(() => undefined);
        if (!isDeadlock(error) || attempt === 5) throw error;
        this.logger.warn({ msg: `job queue: deadlock while creating its tables (attempt ${attempt}); trying again` });
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200 * attempt));
      }
    }
  }

  /**
   * One fetch's jobs, run together, each completed or failed on its own: pg-boss completes a
   * batch whose handler returned, but only its jobs still active, so the jobs that failed are
   * failed here first, once every job of the batch has settled (a job failed earlier could be
   * fetched again, by another instance, while its siblings run, and then be completed by this
   * batch's completion; the retry delay of a batched job, at least 1 s, covers the moment
   * between the two). A batch whose failures cannot be recorded fails as a whole, and its
   * jobs are retried (handlers are idempotent).
   */
  private async runBatch(
    boss: PgBoss,
    job: AnyJobDefinition,
    handler: JobHandler<object>,
    batch: PgBoss.JobWithMetadata<object>[],
  ): Promise<void> {
    if (batch.length === 1) return this.run(job, handler, batch[0]);
    const settled = await Promise.allSettled(batch.map((next) => this.run(job, handler, next)));
    for (const [i, outcome] of settled.entries()) {
      if (outcome.status === 'rejected') await boss.fail(job.name, batch[i].id, outcome.reason as object);
    }
  }

  private async run(
    job: AnyJobDefinition,
    handler: JobHandler<object>,
    next: PgBoss.JobWithMetadata<object>,
  ): Promise<void> {
    // A fetch that was under way when stopping began still hands its job over: failing it
    // now has it retried by another instance without waiting for it to expire.
    if (this.stopping) throw new Error('the job queue is stopping');
    const attempt = new AbortController();
    const expiry = setTimeout(() => attempt.abort(new Error('the attempt expired')), job.expireInSeconds * 1000);
    this.running.add(attempt);
    const context = { jobId: next.id, attempt: next.retryCount + 1, signal: attempt.signal };
    try {
      await handler(next.data, context);
    } catch (err) {
      this.logger.warn({ msg: `job ${job.name} failed`, job_id: next.id, attempt: context.attempt, err });
      throw err;
    } finally {
      clearTimeout(expiry);
      this.running.delete(attempt);
    }
  }
}

/** pg-boss's job insert (`INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING id`) with a `$when` condition. */
function schedule<TData extends object>(boss: PgBoss, job: JobDefinition<TData>): Promise<void> {
  const { cron, data } = job.schedule!;
  return boss.schedule(job.name, cron, data, jobOptions(job, data));
}

function queueOptions(job: AnyJobDefinition): PgBoss.Queue {
  return {
    name: job.name,
    policy: job.singleton?.policy ?? 'standard',
    retryLimit: job.retry.limit,
    retryDelay: job.retry.delaySeconds,
    retryBackoff: job.retry.backoff,
    expireInSeconds: job.expireInSeconds,
    retentionMinutes: job.retentionDays * 24 * 60,
  };
}

function jobOptions<TData extends object>(job: JobDefinition<TData>, data: TData): PgBoss.SendOptions {
  return {
    retryLimit: job.retry.limit,
    retryDelay: job.retry.delaySeconds,
    retryBackoff: job.retry.backoff,
    expireInSeconds: job.expireInSeconds,
    retentionDays: job.retentionDays,
    singletonKey: job.singleton?.key(data),
  };
}
