import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { type AppConfig, InjectConfig } from '@credits/config';
import type { DbTransaction, NotificationEventType } from '@credits/database';
import { JobsService } from '@credits/jobs';
import { eventsOf, type WrittenLedgerEntry } from './notification-events';
import { notificationDispatchJob } from './notification-jobs';
import { NotificationRepository } from './notification.repository';

export function newEventId(): string {
  return `evt_${randomBytes(12).toString('hex')}`;
}

/**
 * Writes events in the transaction of the change they report, with the job that delivers
 * them: both exist if, and only if, the change commits. A change that causes no event costs
 * nothing; one that does costs two statements (the events, then the job, through pg-boss's
 * own `send` in that transaction).
 */
@Injectable()
export class NotificationOutbox {
  constructor(
    private readonly notifications: NotificationRepository,
    private readonly jobs: JobsService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** The events a ledger entry causes (a purchase, a refund, a crossing below the threshold…). */
  afterEntry(tx: DbTransaction, orgId: string, entry: WrittenLedgerEntry): Promise<void> {
    return this.emit(tx, orgId, eventsOf(entry, this.config.credits.lowBalanceThreshold));
  }

  async emit(
    tx: DbTransaction,
    orgId: string,
    events: Array<{ type: NotificationEventType; data: Record<string, unknown> }>,
  ): Promise<void> {
    if (events.length === 0) return;
    const written = events.map((event) => ({ id: newEventId(), ...event }));
    await this.notifications.in(tx).insertEvents(orgId, written);
    await this.jobs.send(notificationDispatchJob, { eventIds: written.map((event) => event.id) }, { tx });
  }
}
