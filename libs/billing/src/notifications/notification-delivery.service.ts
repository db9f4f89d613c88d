import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { type AppConfig, InjectConfig } from '@credits/config';
import { Db, InjectDb } from '@credits/database';
import { type JobDefinition, JobsService } from '@credits/jobs';
import type { NotificationPayload } from './notification-events';
import { type DeliveryJobData, notificationDeliveryJob, notificationDispatchJob } from './notification-jobs';
import { ClaimedDelivery, NotificationRepository } from './notification.repository';
import { SecretBox } from './secret-box';
import { SIGNATURE_HEADER, signatureHeader } from './signature';
import { TargetPolicy } from './target-url';
import { postEvent } from './webhook-sender';

/**
 * Delivers the outbox, at least once, off the request path: a dispatch job fans an event out
 * to its endpoints, a delivery job sends it to one endpoint, one attempt per run. A failed
 * attempt (non-2xx, timeout, refused target) is recorded and retried by the queue with
 * exponential backoff until the event is NOTIFY_RETRY_WINDOW_SECONDS old; the last
 * failure is recorded as `given_up`.
 */
@Injectable()
export class NotificationDelivery implements OnModuleInit {
  private readonly logger = new Logger('Notifications');
  private readonly policy: TargetPolicy;
  private readonly secrets: SecretBox;
  private readonly deliveryJob: JobDefinition<DeliveryJobData>;

  constructor(
    @InjectDb() private readonly db: Db,
    private readonly notifications: NotificationRepository,
    private readonly jobs: JobsService,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    this.policy = new TargetPolicy(config.notifications.publicTargetsOnly);
    this.secrets = new SecretBox(config.notifications.encryptionKey);
    const { retryDelaySeconds, retryWindowSeconds } = config.notifications;
    this.deliveryJob = notificationDeliveryJob(retryDelaySeconds, retryWindowSeconds);
  }

  onModuleInit(): void {
    this.jobs.handle(notificationDispatchJob, ({ eventIds }) => this.dispatch(eventIds));
    this.jobs.handle(this.deliveryJob, (data, { attempt }) => this.deliver(data, attempt));
  }

  /**
   * Schedules the first attempt of each event to every endpoint that takes its type. One read
   * for all of them: with no endpoint taking their types (the common case), that is all.
   */
  async dispatch(eventIds: string[]): Promise<void> {
    const subscribers = await this.notifications.subscribers(eventIds);
    for (const eventId of eventIds) await this.scheduleTo(eventId, subscribers.get(eventId) ?? [], 'first');
  }

  /**
   * Schedules one more attempt of an event to each endpoint that takes its type (an operator's
   * resend). Answers how many were scheduled; undefined when there is no such event.
   */
  async resend(eventId: string): Promise<number | undefined> {
    const endpointIds = (await this.notifications.subscribers([eventId])).get(eventId);
    return endpointIds && this.scheduleTo(eventId, endpointIds, 'next');
  }

  /** `first`: the first attempt, only where none was made yet; `next`: one more after the last. */
  private async scheduleTo(eventId: string, endpointIds: string[], which: 'first' | 'next'): Promise<number> {
    let scheduled = 0;
    for (const endpointId of endpointIds) {
      const attempt = which === 'first' ? 1 : await this.notifications.nextAttempt(eventId, endpointId);
      await this.db.transaction(async (tx) => {
        if (!(await this.notifications.in(tx).schedule(eventId, endpointId, attempt, new Date()))) return;
        const data = { eventId, endpointId, firstAttempt: attempt };
        await this.jobs.send(this.deliveryJob, data, { tx });
        scheduled++;
      });
    }
    return scheduled;
  }

  /** One attempt (the job's `run`th); throws when it failed and another should follow. */
  async deliver({ eventId, endpointId, firstAttempt }: DeliveryJobData, run: number): Promise<void> {
    const attempt = firstAttempt + run - 1;
    const leaseSeconds = Math.ceil(this.config.notifications.timeoutMs / 1000) + 30;
    const delivery = await this.notifications.claim(eventId, endpointId, attempt, leaseSeconds);
    if (!delivery) return; // finished, or being sent by another instance
    if (delivery.endpointRemoved) {
      await this.notifications.finish(delivery.id, { status: 'cancelled', error: 'endpoint removed' });
      return;
    }
    const body = JSON.stringify(payloadOf(delivery));
    const signature = signatureHeader(body, this.secrets.open(delivery.secretCiphertext), unixSeconds(new Date()));
    const outcome = await postEvent(
      this.policy,
      delivery.url,
      body,
      { [SIGNATURE_HEADER]: signature },
      this.config.notifications.timeoutMs,
    );
    if (outcome.ok) {
      await this.notifications.finish(delivery.id, {
        status: 'succeeded',
        responseCode: outcome.status,
        deliveredAt: new Date(),
      });
      return;
    }
    const failed = { responseCode: outcome.status, error: outcome.error.slice(0, 500) };
    this.logger.warn({
      msg: 'notification attempt failed',
      event_id: eventId,
      endpoint_id: endpointId,
      attempt,
      ...failed,
    });
    // The queue's next retry waits at least this long (its backoff doubles from the delay).
    const { retryDelaySeconds, retryWindowSeconds } = this.config.notifications;
    const nextAt = new Date(Date.now() + retryDelaySeconds * 2 ** (run - 1) * 1000);
    const retries = this.deliveryJob.retry.limit;
    if (run > retries || nextAt.getTime() > delivery.eventCreatedAt.getTime() + retryWindowSeconds * 1000) {
      await this.notifications.finish(delivery.id, { status: 'given_up', ...failed });
      return;
    }
    await this.notifications.finish(delivery.id, { status: 'failed', ...failed, nextAttemptAt: nextAt });
    throw new Error(`notification ${eventId} to endpoint ${endpointId}, attempt ${attempt}: ${outcome.error}`);
  }
}

function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

function payloadOf(delivery: ClaimedDelivery): NotificationPayload {
  return {
    id: delivery.eventId,
    type: delivery.type,
    created: unixSeconds(delivery.eventCreatedAt),
    org: { id: delivery.orgId, slug: delivery.orgSlug },
    data: delivery.data,
  };
}
