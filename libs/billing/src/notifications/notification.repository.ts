import { Injectable } from '@nestjs/common';
import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import {
  Db,
  DbTransaction,
  DeliveryStatus,
  hasSqlState,
  InjectDb,
  notificationDeliveries,
  notificationEndpoints,
  notificationEvents,
  NotificationEventType,
  rows,
  stripeEvents,
  textArray,
} from '@credits/database';
import type { NewNotificationEvent } from './notification-events';

export type NotificationEndpointRow = typeof notificationEndpoints.$inferSelect;

/**
 * How long registering an endpoint waits for the Stripe events being applied (each takes
 * milliseconds), and so the longest it pauses the webhook: under the statement timeout.
 */
export const REGISTRATION_WAIT_SECONDS = 2;
/** `lock_not_available`: `lock_timeout` ran out. */
const LOCK_NOT_AVAILABLE = '55P03';
export type NotificationDeliveryRow = typeof notificationDeliveries.$inferSelect;

/** An attempt taken by one sender, with what it needs to send. */
export interface ClaimedDelivery {
  id: string;
  attempt: number;
  eventId: string;
  endpointId: string;
  url: string;
  secretCiphertext: string;
  endpointRemoved: boolean;
  type: NotificationEventType;
  data: Record<string, unknown>;
  eventCreatedAt: Date;
  orgId: string;
  orgSlug: string;
}

export interface DeliveryResult {
  status: DeliveryStatus;
  responseCode?: number | null;
  error?: string | null;
  deliveredAt?: Date | null;
  nextAttemptAt?: Date;
}

/** Endpoints, the outbox of events and the delivery attempts. */
@Injectable()
export class NotificationRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  in(tx: DbTransaction): NotificationWriter {
    return new NotificationWriter(tx);
  }

  /**
   * Registers an endpoint once the Stripe events being applied when it starts have committed:
   * a purchase's transaction reads which types endpoints take in the statement that records its
   * event, and writes no delivery job when none takes its own
   * (`StripeEventWriter.recordProcessedLocking`). The SHARE lock waits for every transaction
   * holding a new row of `stripe_events`, and the events arriving meanwhile wait for it (a
   * statement takes its table locks before its snapshot, which in READ COMMITTED, as those
   * transactions run, is its own), so each such transaction either commits before this endpoint
   * exists or sees it. Webhooks pause while it waits: at most `REGISTRATION_WAIT_SECONDS` (a
   * transaction stuck open, an anti-wraparound vacuum of the table), after which the
   * registration fails with nothing written: `undefined`.
   */
  async addEndpoint(
    url: string,
    events: NotificationEventType[] | null,
    secretCiphertext: string,
  ): Promise<NotificationEndpointRow | undefined> {
    try {
      return await this.db.transaction(async (tx) => {
        await tx.execute(sql.raw(`set local lock_timeout = '${REGISTRATION_WAIT_SECONDS}s'`));
        await tx.execute(sql`lock table ${stripeEvents} in share mode`);
        const [row] = await tx.insert(notificationEndpoints).values({ url, events, secretCiphertext }).returning();
        return row;
      });
    } catch (error) {
      if (hasSqlState(error, LOCK_NOT_AVAILABLE)) return undefined;
      throw error;
    }
  }

  endpoints(): Promise<NotificationEndpointRow[]> {
    return this.db
      .select()
      .from(notificationEndpoints)
      .where(isNull(notificationEndpoints.removedAt))
      .orderBy(notificationEndpoints.createdAt);
  }

  /** Whether an active endpoint was removed by this call. */
  async removeEndpoint(id: string): Promise<boolean> {
    const removed = await this.db
      .update(notificationEndpoints)
      .set({ removedAt: new Date() })
      .where(and(eq(notificationEndpoints.id, id), isNull(notificationEndpoints.removedAt)))
      .returning({ id: notificationEndpoints.id });
    return removed.length > 0;
  }

  /**
   * Of these events, each that exists with the active endpoints that take its type (their ids,
   * oldest endpoint first; none: an empty list), in one statement whatever their number.
   */
  async subscribers(eventIds: readonly string[]): Promise<Map<string, string[]>> {
    const found = await rows<{ event_id: string; endpoint_ids: string[] }>(
      this.db,
      sql`select e.id as event_id,
                 coalesce(array_agg(p.id order by p.created_at) filter (where p.id is not null), '{}') as endpoint_ids
          from ${notificationEvents} e
          left join ${notificationEndpoints} p
            on p.removed_at is null and (p.events is null or e.type = any(p.events))
          where e.id = any(${textArray(eventIds)})
          group by e.id`,
    );
    return new Map(found.map((row) => [row.event_id, row.endpoint_ids]));
  }

  /** The latest attempts first; `failedOnly`: those that failed or were given up on. */
  deliveries(options: { limit: number; failedOnly: boolean }): Promise<NotificationDeliveryRow[]> {
    return this.db
      .select()
      .from(notificationDeliveries)
      .where(options.failedOnly ? inArray(notificationDeliveries.status, ['failed', 'given_up']) : undefined)
      .orderBy(desc(notificationDeliveries.createdAt), desc(notificationDeliveries.attempt))
      .limit(options.limit);
  }

  /**
   * Takes one attempt of an event to an endpoint for this sender: the row scheduled for it, or a
   * new one, or one whose sender's lease ran out (it died mid-attempt). Undefined when another
   * sender holds it or it is finished: one attempt is sent by one sender at a time.
   */
  async claim(
    eventId: string,
    endpointId: string,
    attempt: number,
    leaseSeconds: number,
  ): Promise<ClaimedDelivery | undefined> {
    const [row] = await rows<{
      id: string;
      url: string;
      secret_ciphertext: string;
      removed_at: string | null;
      type: NotificationEventType;
      data: Record<string, unknown>;
      created_at: string | Date;
      org_id: string;
      slug: string;
    }>(
      this.db,
      sql`
      with claimed as (
        insert into ${notificationDeliveries} as d (event_id, endpoint_id, attempt, status, claimed_until)
        values (${eventId}::text, ${endpointId}::uuid, ${attempt}::int, 'sending',
                now() + make_interval(secs => ${leaseSeconds}::int))
        on conflict (event_id, endpoint_id, attempt) do update
          set status = 'sending', claimed_until = excluded.claimed_until, next_attempt_at = now()
          where d.status = 'scheduled' or (d.status = 'sending' and d.claimed_until < now())
        returning d.id, d.event_id, d.endpoint_id
      )
      select c.id, e.url, e.secret_ciphertext, e.removed_at, v.type, v.data, v.created_at, v.org_id, o.slug
      from claimed c
      join notification_endpoints e on e.id = c.endpoint_id
      join notification_events v on v.id = c.event_id
      join organizations o on o.id = v.org_id`,
    );
    if (!row) return undefined;
    return {
      id: row.id,
      attempt,
      eventId,
      endpointId,
      url: row.url,
      secretCiphertext: row.secret_ciphertext,
      endpointRemoved: row.removed_at !== null,
      type: row.type,
      data: row.data,
      eventCreatedAt: new Date(row.created_at),
      orgId: row.org_id,
      orgSlug: row.slug,
    };
  }

  async finish(id: string, result: DeliveryResult): Promise<void> {
    await new NotificationWriter(this.db).finish(id, result);
  }

  /** The number the next attempt of this event to this endpoint takes. */
  async nextAttempt(eventId: string, endpointId: string): Promise<number> {
    const [row] = await this.db
      .select({ last: sql<number>`coalesce(max(${notificationDeliveries.attempt}), 0)::int` })
      .from(notificationDeliveries)
      .where(and(eq(notificationDeliveries.eventId, eventId), eq(notificationDeliveries.endpointId, endpointId)));
    return Number(row.last) + 1;
  }
}

/** The outbox's writes, inside the caller's transaction. */
export class NotificationWriter {
  constructor(private readonly tx: Db | DbTransaction) {}

  async insertEvents(orgId: string, events: NewNotificationEvent[]): Promise<void> {
    await this.tx.insert(notificationEvents).values(events.map((event) => ({ ...event, orgId })));
  }

  /** The attempt's id, or undefined when that attempt is already scheduled (a job run twice). */
  async schedule(eventId: string, endpointId: string, attempt: number, at: Date): Promise<string | undefined> {
    const [row] = await this.tx
      .insert(notificationDeliveries)
      .values({ eventId, endpointId, attempt, nextAttemptAt: at })
      .onConflictDoNothing()
      .returning({ id: notificationDeliveries.id });
    return row?.id;
  }

  async finish(id: string, result: DeliveryResult): Promise<void> {
    await this.tx
      .update(notificationDeliveries)
      .set({ ...result, claimedUntil: null })
      .where(eq(notificationDeliveries.id, id));
  }
}
