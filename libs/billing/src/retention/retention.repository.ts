import { Injectable } from '@nestjs/common';
import { type SQL, sql } from 'drizzle-orm';
import {
  Db,
  idempotencyKeys,
  InjectDb,
  notificationDeliveries,
  notificationEvents,
  rows,
  usageRecords,
} from '@credits/database';

/**
 * Deletes what has served its purpose, a bounded batch per statement (each statement is
 * short and locks few rows; the caller repeats it). Every method answers how many rows went.
 * Across every org: retention is the operator's, not an org's.
 */
@Injectable()
export class RetentionRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  /** Usage records past their 30 days: their key may be used again, and nothing replays them. */
  deleteExpiredUsageRecords(limit: number): Promise<number> {
    return this.deleted(sql`
        delete from ${usageRecords} where (org_id, idempotency_key) in (
          select org_id, idempotency_key from ${usageRecords} where expires_at <= now() limit ${limit})`);
  }

  /** Idempotency keys past their expiry, unless a request still holds one (in progress, locked). */
  deleteExpiredIdempotencyKeys(limit: number): Promise<number> {
    return this.deleted(sql`
        delete from ${idempotencyKeys} where (user_id, org_id, key) in (
          select user_id, org_id, key from ${idempotencyKeys}
          where expires_at <= now() and (state = 'completed' or locked_until <= now()) limit ${limit})`);
  }

  /**
   * Deliveries older than `days` that are over (delivered, given up, cancelled). One still
   * scheduled or retrying is kept, and so is its event.
   */
  deleteFinishedDeliveries(days: number, limit: number): Promise<number> {
    return this.deleted(sql`
        delete from ${notificationDeliveries} where id in (
          select id from ${notificationDeliveries}
          where created_at < now() - make_interval(days => ${days}::int)
            and status in ('succeeded', 'given_up', 'cancelled')
          limit ${limit})`);
  }

  /** Events older than `days` with no delivery left. */
  deleteOldEvents(days: number, limit: number): Promise<number> {
    return this.deleted(sql`
        delete from ${notificationEvents} where id in (
          select e.id from ${notificationEvents} e
          where e.created_at < now() - make_interval(days => ${days}::int)
            and not exists (select 1 from ${notificationDeliveries} d where d.event_id = e.id)
          limit ${limit})`);
  }

  /** Runs a DELETE and answers how many rows it removed. */
  private async deleted(statement: SQL): Promise<number> {
    const [row] = await rows<{ n: number }>(
      this.db,
      sql`with gone as (${statement} returning 1) select count(*)::int as n from gone`,
    );
    return Number(row.n);
  }
}
