import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '@credits/config';
import { defineJob, type JobDefinition, JobsService } from '@credits/jobs';
import { RetentionRepository } from './retention.repository';

export const RETENTION_JOB_NAME = 'retention';

/** At most this many batches per table and run: a backlog is worked off over several runs. */
const MAX_BATCHES_PER_RUN = 100;

/** What one run deleted, per table. */
export interface RetentionReport {
  usageRecords: number;
  idempotencyKeys: number;
  notificationDeliveries: number;
  notificationEvents: number;
}

/**
 * Deletes expired usage records and idempotency keys, and old notification events and finished
 * deliveries (`RETENTION_*`, `NOTIFICATION_RETENTION_DAYS`), on a schedule, one instance at a
 * time. Finished jobs are pg-boss's own to delete (`JOB_RETENTION_DAYS`, its maintenance).
 */
@Injectable()
export class RetentionSchedule implements OnModuleInit {
  private readonly logger = new Logger('Retention');
  /** Undefined when the schedule is turned off (`RETENTION_ENABLED=false`). */
  readonly job?: JobDefinition<object>;

  constructor(
    private readonly jobs: JobsService,
    private readonly retention: RetentionRepository,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    if (!config.retention.enabled) return;
    this.job = defineJob<object>({
      name: RETENTION_JOB_NAME,
      schedule: { cron: config.retention.cron, data: {} },
      singleton: { policy: 'stately', key: () => RETENTION_JOB_NAME },
      // The next tick does the same work.
      retry: { limit: 0 },
      expireInSeconds: 15 * 60,
      retentionDays: 1,
    });
  }

  onModuleInit(): void {
    if (this.job) this.jobs.handle(this.job, () => this.run().then(() => undefined));
  }

  async run(): Promise<RetentionReport> {
    const { batchSize, notificationDays } = this.config.retention;
    const report: RetentionReport = {
      usageRecords: await this.drain(() => this.retention.deleteExpiredUsageRecords(batchSize)),
      idempotencyKeys: await this.drain(() => this.retention.deleteExpiredIdempotencyKeys(batchSize)),
      // Deliveries first: an event goes once none of its deliveries is left.
      notificationDeliveries: await this.drain(() =>
        this.retention.deleteFinishedDeliveries(notificationDays, batchSize),
      ),
      notificationEvents: await this.drain(() => this.retention.deleteOldEvents(notificationDays, batchSize)),
    };
    if (Object.values(report).some((n) => n > 0))
      this.logger.log({ msg: 'deleted what is past its retention', ...report });
    return report;
  }

  /** Repeats a batch until one deletes less than a whole batch (or the run's cap is reached). */
  private async drain(batch: () => Promise<number>): Promise<number> {
    let total = 0;
    for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
      const deleted = await batch();
      total += deleted;
      if (deleted < this.config.retention.batchSize) break;
    }
    return total;
  }
}
