/** Never set: carries a job's payload type so `send` and `handle` check it against the definition. */
declare const payloadType: unique symbol;

/**
 * At most one job per key at a time, across every instance (pg-boss queue policies):
 * - `singleton`: one running per key; further jobs for the key wait, queued.
 * - `stately`: one running and one queued per key; a send while one is already queued is
 *   dropped (`send` answers null), which coalesces bursts (e.g. one refill per org).
 *
 * pg-boss 10 enforces either with a unique index on the running job, and a worker's fetch
 * takes the oldest queued job first: while the oldest is blocked by its key's running job,
 * jobs of other keys in the same queue wait too (head-of-line), for at most that job's run.
 */
export interface JobSingleton<TData> {
  policy: 'singleton' | 'stately';
  key: (data: TData) => string;
}

export interface JobRetryPolicy {
  /** Further attempts after the first one fails (0: none). */
  limit: number;
  /** Seconds before the first retry. */
  delaySeconds: number;
  /**
   * Exponential backoff with jitter: retry n waits between delay × 2^(n-1) and twice that
   * (pg-boss 10 has no ceiling: mind the limit).
   */
  backoff: boolean;
}

export interface JobDefinition<TData extends object> {
  readonly name: string;
  readonly retry: JobRetryPolicy;
  /**
   * How long one attempt may run. Past it the attempt counts as failed and the job is retried
   * (the handler's `signal` aborts; the first run is not stopped, so both may overlap). A job
   * whose instance died is retried once this has passed (noticed by maintenance, every 2 min).
   */
  readonly expireInSeconds: number;
  /**
   * How long a job is kept from when it was first due: one still queued or waiting for a retry
   * past it is dropped unrun. Retries do not extend it: keep it above the whole retry span.
   */
  readonly retentionDays: number;
  /** Workers per instance, each running one fetch's jobs at a time. */
  readonly concurrency: number;
  /**
   * Jobs a worker takes per fetch, run together (handlers at once per instance: concurrency ×
   * batchSize). pg-boss 10's fetch sorts every job queued in its queue to take the oldest, so
   * with a backlog each fetch costs the database in proportion to it; a queue that can pile
   * up (one job per purchase) takes several per fetch. Default 1. Jobs of a batch are
   * completed together when the last one ends: one that succeeded early stays active until
   * then, and is run again should the batch as a whole fail (its expiry, a shutdown).
   */
  readonly batchSize: number;
  /**
   * How often an idle worker looks for this job, if more often than the queue's default (2 s):
   * for a job written inside a transaction (no worker is woken for it) that someone waits for.
   * pg-boss's least is 0.5 s; each worker costs one query per interval.
   */
  readonly pollingIntervalSeconds?: number;
  readonly singleton?: JobSingleton<TData>;
  /** A cron schedule (UTC, minute resolution): one job per tick, whatever the number of instances. */
  readonly schedule?: { cron: string; data: TData };
  readonly [payloadType]?: TData;
}

/** Any job, whatever its payload: what lists of jobs hold. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a payload type is invariant: no other top type fits
export type AnyJobDefinition = JobDefinition<any>;

export type JobData<TJob> = TJob extends JobDefinition<infer TData> ? TData : never;

export type JobDefinitionInput<TData extends object> = Pick<JobDefinition<TData>, 'name'> &
  Partial<Omit<JobDefinition<TData>, 'name' | 'retry'>> & { retry?: Partial<JobRetryPolicy> };

const DEFAULT_RETRY: JobRetryPolicy = { limit: 3, delaySeconds: 10, backoff: true };

/**
 * Declares a job. Its payload is stored as JSON and must survive `JSON.stringify` (no Dates,
 * no top-level array). Declare each job once, as a module-level constant shared by the code
 * that sends it and the code that handles it.
 */
export function defineJob<TData extends object>(input: JobDefinitionInput<TData>): JobDefinition<TData> {
  // pg-boss names a queue's partition after it; keep names to what every version accepts.
  if (!/^[a-z][a-z0-9_-]{0,62}$/.test(input.name)) {
    throw new Error(`job name '${input.name}': use 1–63 of a-z, 0-9, '_' and '-', starting with a letter`);
  }
  const definition: JobDefinition<TData> = {
    expireInSeconds: 15 * 60,
    retentionDays: 14,
    concurrency: 1,
    batchSize: 1,
    ...input,
    retry: { ...DEFAULT_RETRY, ...input.retry },
  };
  const { retry, expireInSeconds, retentionDays, concurrency, batchSize } = definition;
  const whole = (value: number, min: number) => Number.isInteger(value) && value >= min;
  if (!whole(retry.limit, 0) || !whole(retry.delaySeconds, 0)) {
    throw new Error(`job '${input.name}': retry limit and delaySeconds are whole numbers ≥ 0`);
  }
  if (!whole(expireInSeconds, 1) || !whole(retentionDays, 1) || !whole(concurrency, 1) || !whole(batchSize, 1)) {
    throw new Error(
      `job '${input.name}': expireInSeconds, retentionDays, concurrency and batchSize are whole numbers ≥ 1`,
    );
  }
  if (batchSize > 1 && retry.delaySeconds < 1) {
    // A job of a batch that fails is failed when the batch ends, just before the batch is
    // completed: retried at once, another instance could take it in between (JobsService).
    throw new Error(`job '${input.name}': a batched job (batchSize > 1) waits at least 1 s before a retry`);
  }
  const polling = definition.pollingIntervalSeconds;
  if (polling !== undefined && !(polling >= 0.5 && polling <= 3600)) {
    throw new Error(`job '${input.name}': pollingIntervalSeconds is between 0.5 (pg-boss's least) and 3600`);
  }
  if (expireInSeconds >= 24 * 3600) throw new Error(`job '${input.name}': expireInSeconds must be under 24 h`);
  return Object.freeze(definition);
}
