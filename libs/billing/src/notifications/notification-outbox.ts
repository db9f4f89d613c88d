import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { type AppConfig, InjectConfig } from '@credits/config';
import { sql, type SQL } from 'drizzle-orm';
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
 * nothing; one that does costs one statement (the events, with the job in a CTE).
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

  /**
   * The events of a credit (amount ≥ 0), written by the ledger's own statement: CTEs
   * (`events`, `events_job`) that write them and their dispatch job from `entry` (the CTE
   * holding the written entry's `id` and `balance_after`; no row when no entry was written),
   * one round trip fewer under the org's balance-row lock than `afterEntry`. A credit never
   * lowers the balance, so which events it causes does not depend on the balance (no crossing
   * below the threshold, no depletion); only their `transaction_id` and `balance` do, and
   * those come from `entry`. Undefined: the entry causes no event.
   */
  async creditStatement(
    tx: DbTransaction,
    orgId: string,
    entry: Omit<WrittenLedgerEntry, 'entryId' | 'balanceAfter'>,
    entryCte: SQL,
  ): Promise<SQL | undefined> {
    if (entry.amount < 0) throw new Error('creditStatement: the events of a debit depend on the balance (afterEntry)');
    const threshold = this.config.credits.lowBalanceThreshold;
    const due = eventsOf({ ...entry, entryId: '', balanceAfter: entry.amount }, threshold).map((event) => {
      // Completed from the entry in SQL.
      const { transaction_id: _id, balance: _balance, ...data } = event.data;
      return { id: newEventId(), type: event.type, data };
    });
    if (due.length === 0) return undefined;
    const job = await this.jobs.sendStatement(
      notificationDispatchJob,
      { eventIds: due.map((event) => event.id) },
      { when: sql`exists (select 1 from ${entryCte})` },
    );
    const events = this.notifications.in(tx).insertEventsOfEntryStatement(orgId, due, entryCte);
    return sql`events as (${events}), events_job as (${job})`;
  }

  async emit(
    tx: DbTransaction,
    orgId: string,
    events: Array<{ type: NotificationEventType; data: Record<string, unknown> }>,
  ): Promise<void> {
    if (events.length === 0) return;
    const written = events.map((event) => ({ id: newEventId(), ...event }));
    // One round trip: the job is written by the events' own statement (the caller may hold the
    // org's balance-row lock until it commits).
    const job = await this.jobs.sendStatement(notificationDispatchJob, { eventIds: written.map((event) => event.id) });
    await this.notifications.in(tx).insertEvents(orgId, written, job);
  }
}
