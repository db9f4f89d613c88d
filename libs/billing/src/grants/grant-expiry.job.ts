import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '@credits/config';
import { Db, InjectDb } from '@credits/database';
import { defineJob, JobsService } from '@credits/jobs';
import { LedgerService } from '../ledger/ledger.service';
import { NotificationOutbox } from '../notifications/notification-outbox';
import { GrantsRepository } from './grants.repository';

/**
 * Every minute, one instance at a time: expired grants are written off within a minute even in
 * orgs nothing else writes to, and `credits.expiring` goes out once per grant. Spending never
 * waits for it (an expired grant stops being spendable at its `expires_at`), and each write-off
 * is unique in the ledger, so a second sweeper, or a tick run twice, writes nothing twice.
 */
export const grantExpiryJob = defineJob<object>({
  name: 'grant-expiry',
  schedule: { cron: '* * * * *', data: {} },
  singleton: { policy: 'stately', key: () => 'grant-expiry' },
  // The next tick does the same work.
  retry: { limit: 0 },
  expireInSeconds: 5 * 60,
  retentionDays: 1,
});

const BATCH = 200;

export interface GrantSweepReport {
  /** Orgs whose due expiries were written off. */
  settledOrgs: number;
  /** `credits.expiring` notices written. */
  notices: number;
}

/** The grant expiry sweep (`GRANT_EXPIRY_ENABLED`). */
@Injectable()
export class GrantExpirySchedule implements OnModuleInit {
  private readonly logger = new Logger(GrantExpirySchedule.name);

  constructor(
    @InjectDb() private readonly db: Db,
    private readonly jobs: JobsService,
    private readonly grants: GrantsRepository,
    private readonly ledger: LedgerService,
    private readonly outbox: NotificationOutbox,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    if (!this.config.grants.expirySweepEnabled) return;
    this.jobs.handle(grantExpiryJob, () => this.run().then(() => undefined));
  }

  async run(): Promise<GrantSweepReport> {
    const report = { settledOrgs: 0, notices: 0 };
    for (;;) {
      const orgs = await this.grants.orgsDue(BATCH);
      // Each org in its own transaction: taking its balance lock settles what is due.
      for (const orgId of orgs) await this.db.transaction((tx) => this.ledger.lockBalance(tx, orgId));
      report.settledOrgs += orgs.length;
      if (orgs.length < BATCH) break;
    }
    for (;;) {
      const due = await this.grants.dueNotices(this.config.credits.expiryNoticeDays, BATCH);
      const byOrg = new Map<string, typeof due>();
      for (const grant of due) byOrg.set(grant.orgId, [...(byOrg.get(grant.orgId) ?? []), grant]);
      for (const [orgId, grants] of byOrg) {
        report.notices += await this.db.transaction(async (tx) => {
          const marked = new Set(
            await this.grants.in(tx).markNoticed(
              orgId,
              grants.map((grant) => grant.id),
            ),
          );
          await this.outbox.emit(
            tx,
            orgId,
            grants
              .filter((grant) => marked.has(grant.id))
              .map((grant) => ({
                type: 'credits.expiring' as const,
                data: {
                  grant_id: grant.id,
                  credits: grant.remaining,
                  expires_at: grant.expiresAt!.toISOString(),
                  category: grant.category,
                },
              })),
          );
          return marked.size;
        });
      }
      if (due.length < BATCH) break;
    }
    if (report.settledOrgs || report.notices) this.logger.log({ msg: 'grant expiry sweep', ...report });
    return report;
  }
}
