import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '@credits/config';
import { defineJob, JobsService } from '@credits/jobs';
import { HoldsService } from './holds.service';

/**
 * Every minute, one instance at a time. Only tidiness rides on it (a hold's status in the
 * table, the partial index of active holds): an expired hold stops counting at its
 * `expires_at` and reads as `expired` without it.
 */
export const holdExpiryJob = defineJob<object>({
  name: 'hold-expiry',
  schedule: { cron: '* * * * *', data: {} },
  singleton: { policy: 'stately', key: () => 'hold-expiry' },
  // The next tick does the same work.
  retry: { limit: 0 },
  expireInSeconds: 5 * 60,
  retentionDays: 1,
});

/** Marks holds past their `expires_at` as `expired` (`HOLD_SWEEP_ENABLED`). Running it twice is harmless. */
@Injectable()
export class HoldExpirySchedule implements OnModuleInit {
  constructor(
    private readonly jobs: JobsService,
    private readonly holds: HoldsService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    if (!this.config.holds.sweepEnabled) return;
    this.jobs.handle(holdExpiryJob, () => this.run().then(() => undefined));
  }

  run(): Promise<number> {
    return this.holds.expireDue();
  }
}
