import { defineJob, type JobDefinition } from '@credits/jobs';

/**
 * Written with the events, in the transaction of the change they report: fans each event out
 * into one delivery per endpoint that takes its type. Retried on its own failure (a database
 * outage); attempt 1 per endpoint and event is unique, so a second run schedules nothing twice.
 */
export const notificationDispatchJob = defineJob<{ eventIds: string[] }>({
  name: 'notification-dispatch',
  retry: { limit: 12, delaySeconds: 5, backoff: true },
  // One per purchase or crossing, a few statements each: several per fetch, as a backlog of
  // them costs every fetch a sort of the whole queue (JobDefinition.batchSize).
  batchSize: 5,
  expireInSeconds: 120,
  retentionDays: 4,
});

export interface DeliveryJobData {
  eventId: string;
  endpointId: string;
  /** The attempt number of this job's first run (1, or the next one for a resend). */
  firstAttempt: number;
}

/**
 * Delivers one event to one endpoint; each run is one attempt, and a failed attempt throws so
 * that pg-boss runs it again with exponential backoff (delay, then doubling, with jitter: the
 * first retry between `retryDelaySeconds` and twice that). The limit is what fits the retry
 * window; the handler also gives up (recorded) once the next retry would fall past it.
 */
export function notificationDeliveryJob(
  retryDelaySeconds: number,
  retryWindowSeconds: number,
): JobDefinition<DeliveryJobData> {
  // One definition per setting: the queue knows a job by its definition object.
  const key = `${retryDelaySeconds}:${retryWindowSeconds}`;
  const known = deliveryJobs.get(key);
  if (known) return known;
  const limit = Math.max(0, Math.floor(Math.log2(retryWindowSeconds / retryDelaySeconds + 1)));
  const job: JobDefinition<DeliveryJobData> = defineJob<DeliveryJobData>({
    name: 'notification-delivery',
    retry: { limit, delaySeconds: retryDelaySeconds, backoff: true },
    expireInSeconds: 120,
    // Kept from when it was first due: longer than every retry it may make.
    retentionDays: Math.ceil(retryWindowSeconds / 86400) + 1,
    concurrency: 4,
  });
  deliveryJobs.set(key, job);
  return job;
}

const deliveryJobs = new Map<string, JobDefinition<DeliveryJobData>>();
