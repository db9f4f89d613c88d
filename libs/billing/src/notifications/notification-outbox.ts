import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { type AppConfig, InjectConfig } from '@credits/config';
import type { DbTransaction } from '@credits/database';
import { type JobSend, jobSend, JobsService } from '@credits/jobs';
import {
  creditEventsOf,
  type DueEvent,
  eventsOf,
  type NewNotificationEvent,
  type SubscribedTypes,
  type WrittenLedgerEntry,
} from './notification-events';
import { notificationDispatchJob } from './notification-jobs';
import { NotificationRepository } from './notification.repository';

export function newEventId(): string {
  return `evt_${randomBytes(12).toString('hex')}`;
}

/** A credit's events, with the job that will deliver them (and the credit's others) written. */
export interface PreparedCreditEvents {
  /** For the credit's own statement to write (LedgerRepository.credit). */
  events: NewNotificationEvent[];
  /** Deletes the jobs, when the credit then wrote nothing (its source was already applied). */
  withdraw(): Promise<void>;
}

/**
 * Writes events in the transaction of the change they report, with the job that delivers
 * them: both exist if, and only if, the change commits (a credit's job only when an endpoint
 * takes one of its events, if the transaction knows which: `beforeCredit`). A change that
 * causes no event costs nothing; one that does costs two statements (the events, then the job,
 * through pg-boss's own `send` in that transaction), or for a credit at most one: its job,
 * written before the credit with the credit's other jobs.
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
   * The events a credit will cause, with ids, and their delivery job, written now with `jobs`
   * (others the credit causes) in one statement: a credit's events are known before its
   * balance (`creditEventsOf`), so the jobs are written before the credit takes the org's
   * balance row, and the credit's statement writes the events. Only that statement and the
   * commit then hold the row, which orders every grant of the org.
   *
   * `subscribed`: the event types some endpoint takes, when the transaction knows them in time
   * (`LedgerEntryInput.subscribed`). The events are written all the same (an operator can
   * resend one), but with no endpoint taking any of them there is nobody to deliver to, and no
   * delivery job: a job each grant, written, fetched and completed, cost the API a sixth to a
   * quarter of its CPU per purchase webhook (bench/README.md).
   */
  async beforeCredit(
    tx: DbTransaction,
    entry: Omit<WrittenLedgerEntry, 'balanceAfter'>,
    jobs: readonly JobSend[] = [],
    subscribed?: SubscribedTypes,
  ): Promise<PreparedCreditEvents> {
    const events = creditEventsOf(entry).map((event) => ({ id: newEventId(), ...event }));
    const delivered = subscribed ? events.some((event) => subscribed.has(event.type)) : events.length > 0;
    const sends = delivered ? [jobSend(notificationDispatchJob, { eventIds: events.map((e) => e.id) }), ...jobs] : jobs;
    const ids = await this.jobs.sendAll(sends, { tx });
    return {
      events,
      withdraw: async () => {
        for (const job of new Set(sends.map((send) => send.job))) {
          await this.jobs.withdraw(
            job,
            ids.filter((_, i) => sends[i].job === job),
            { tx },
          );
        }
      },
    };
  }

  async emit(tx: DbTransaction, orgId: string, events: DueEvent[]): Promise<void> {
    if (events.length === 0) return;
    const written = events.map((event) => ({ id: newEventId(), ...event }));
    await this.notifications.in(tx).insertEvents(orgId, written);
    await this.jobs.send(notificationDispatchJob, { eventIds: written.map((event) => event.id) }, { tx });
  }
}
