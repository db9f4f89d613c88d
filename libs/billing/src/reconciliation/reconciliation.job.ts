import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '@credits/config';
import { defineJob, type JobDefinition, JobsService } from '@credits/jobs';
import { ReconciliationService } from './reconciliation.service';

export const RECONCILE_JOB_NAME = 'stripe-reconcile';

/** The sweep's job: its schedule is the configuration's, so it is defined once, at boot. */
export function reconcileJob(cron: string): JobDefinition<object> {
  return defineJob<object>({
    name: RECONCILE_JOB_NAME,
    schedule: { cron, data: {} },
    // One run at a time across every instance, one more queued at most: a run that outlasts
    // the interval delays the next tick instead of overlapping it.
    singleton: { policy: 'stately', key: () => RECONCILE_JOB_NAME },
    // A failed run is retried by the next tick, which covers the same window.
    retry: { limit: 0 },
    expireInSeconds: 15 * 60,
    retentionDays: 1,
  });
}

/**
 * Runs the reconciliation on a schedule (`RECONCILE_*`), on one instance at a time. Sessions
 * younger than `settleMs` are left to the webhook, which normally arrives within seconds.
 */
@Injectable()
export class ReconciliationSchedule implements OnModuleInit {
  /** Undefined when the schedule is turned off (`RECONCILE_ENABLED=false`). */
  readonly job?: JobDefinition<object>;

  constructor(
    private readonly jobs: JobsService,
    private readonly reconciliation: ReconciliationService,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    if (config.reconcile.enabled) this.job = reconcileJob(config.reconcile.cron);
  }

  onModuleInit(): void {
    if (!this.job) return;
    this.jobs.handle(this.job, () => this.run().then(() => undefined));
  }

  run(now = Date.now()) {
    const { windowMs, settleMs } = this.config.reconcile;
    return this.reconciliation.reconcile({ since: new Date(now - windowMs), until: new Date(now - settleMs) });
  }
}
