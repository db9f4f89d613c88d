import { Injectable } from '@nestjs/common';
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import {
  checkoutSessions,
  Db,
  DbTransaction,
  InjectDb,
  NOTIFICATION_EVENT_TYPES,
  notificationEndpoints,
  type NotificationEventType,
  rowOf,
  rows,
  stripeEvents,
} from '@credits/database';
import type { CheckoutSessionRow } from '../checkout/checkout-session.repository';
import type { SubscribedTypes } from '../notifications/notification-events';

export type EventOutcome = 'processed' | 'duplicate' | 'ignored' | 'failed_permanently';

/** The Stripe events seen, each once (its id is the key), with what became of it. */
@Injectable()
export class StripeEventRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  /** The event's record, inside the caller's transaction. */
  in(tx: DbTransaction): StripeEventWriter {
    return new StripeEventWriter(tx);
  }

  /**
   * Whether the event was recorded before, whether we hold a record of its Checkout session
   * (`null`: none named), and whether that session's credits were granted already: one round
   * trip, the first of every delivery.
   */
  async lookup(
    eventId: string,
    checkoutSessionId: string | null,
  ): Promise<{ seen: boolean; known: boolean; granted: boolean }> {
    // `granted` is null when we hold no record of the session.
    const [row] = await rows<{ seen: boolean; granted: boolean | null }>(
      this.db,
      sql`
      select exists (select 1 from ${stripeEvents} where ${stripeEvents.id} = ${eventId}::text) as seen,
             (select fulfilled_at is not null from ${checkoutSessions}
              where ${checkoutSessions.id} = ${checkoutSessionId}::text) as granted`,
    );
    const granted = row?.granted ?? null;
    return { seen: row?.seen === true, known: granted !== null, granted: granted === true };
  }

  /** Records an outcome decided outside a transaction; an event recorded already keeps its first. */
  async record(event: { id: string; type: string }, outcome: EventOutcome, detail?: string): Promise<void> {
    await this.db
      .insert(stripeEvents)
      .values({ id: event.id, type: event.type, outcome, detail })
      .onConflictDoNothing();
  }
}

export class StripeEventWriter {
  constructor(private readonly tx: DbTransaction) {}

  /** Records the event as processed by this transaction; false when it was recorded already. */
  async recordProcessed(event: { id: string; type: string }): Promise<boolean> {
    const fresh = await this.tx
      .insert(stripeEvents)
      .values({ id: event.id, type: event.type, outcome: 'processed' })
      .onConflictDoNothing()
      .returning({ id: stripeEvents.id });
    return fresh.length > 0;
  }

  /**
   * `recordProcessed` and the event's Checkout session locked for the rest of the transaction
   * (`CheckoutSessionWriter.lock`), in one round trip. `session` is undefined when we hold no
   * record of it; `fresh` is then unknown, reported false.
   *
   * `subscribed`: the event types some active notification endpoint takes, as this statement
   * sees them, so that a grant with no one to tell writes no delivery job
   * (`NotificationOutbox.beforeCredit`). Read in the statement that writes the event's row, in
   * a READ COMMITTED transaction (`FulfilmentService`): an endpoint's registration waits for
   * every transaction holding such a row (`NotificationRepository.addEndpoint`), so an endpoint
   * this statement did not see was registered after this event's transaction committed, and is
   * owed none of its events. `recordProcessedGranting` reads it the same way.
   */
  async recordProcessedLocking(event: { id: string; type: string }, sessionId: string): Promise<RecordedEvent> {
    // A data-modifying WITH runs exactly once; the select below sees the table as it was
    // before it, so whether it wrote a row is read from its own output. Written as `sql`, not
    // with the query builder: it runs for every event, and the builder cost ~5× as much to build.
    const [row] = await rows<SessionWithEvent>(
      this.tx,
      sql`
      with ${recorded(event)}
      select ${SESSION_COLUMN_LIST}, exists (select 1 from recorded) as fresh, (${SUBSCRIBED_TYPES}) as subscribed
      from ${checkoutSessions} s where s.id = ${sessionId}::text
      for update of s`,
    );
    return lockedOrUnknown(row);
  }

  /**
   * `recordProcessedLocking` for an event that grants its session whatever our record of it says
   * (`sessionGrantedBy`): the same statement also marks the session granted, as
   * `PurchaseEvents` does before the credit (complete, paid, `fulfilled_at` kept or now, the
   * PaymentIntent kept or `paymentIntentId`), and answers it marked, so the grant finds nothing
   * left to write there. One round trip fewer in every purchase's transaction.
   *
   * Only a fresh event marks and locks the session (the UPDATE takes its row lock). A duplicate
   * answers the row as it stands, unlocked: its caller ends the transaction at once.
   */
  async recordProcessedGranting(
    event: { id: string; type: string },
    sessionId: string,
    paymentIntentId: string | null,
  ): Promise<RecordedEvent> {
    // The two branches never both answer: `marked` writes only when `recorded` did.
    const [row] = await rows<SessionWithEvent>(
      this.tx,
      sql`
      with ${recorded(event)},
      marked as (
        update ${checkoutSessions} s
        set status = 'complete', payment_status = 'paid', fulfilled_at = coalesce(s.fulfilled_at, now()),
            stripe_payment_intent_id = coalesce(${paymentIntentId}::text, s.stripe_payment_intent_id),
            updated_at = now()
        where s.id = ${sessionId}::text and exists (select 1 from recorded)
        returning ${SESSION_COLUMN_LIST}),
      wanted as (${SUBSCRIBED_TYPES})
      select ${SESSION_COLUMN_LIST}, true as fresh, wanted.subscribed from marked s, wanted
      union all
      select ${SESSION_COLUMN_LIST}, false, wanted.subscribed from ${checkoutSessions} s, wanted
      where s.id = ${sessionId}::text and not exists (select 1 from recorded)`,
    );
    return lockedOrUnknown(row);
  }
}

/**
 * What recording an event with its session answers: whether this transaction recorded it, the
 * session (undefined when we hold no record of it; `fresh` is then reported false), and the
 * event types the active notification endpoints take.
 */
export interface RecordedEvent {
  fresh: boolean;
  session: CheckoutSessionRow | undefined;
  subscribed: SubscribedTypes | undefined;
}

/** A session's row as a statement that records its event answers it. */
type SessionWithEvent = Record<string, unknown> & { fresh: boolean; subscribed: NotificationEventType[] };

/**
 * The WITH query that records the event as processed: `recorded` holds its id when this
 * statement wrote it, and nothing when it was recorded already.
 */
function recorded(event: { id: string; type: string }): SQL {
  return sql`recorded as (
    insert into ${stripeEvents} (id, type, outcome) values (${event.id}::text, ${event.type}::text, 'processed')
    on conflict do nothing returning id)`;
}

/** The session read with its event's record, and what came with it; no row: a session we hold no record of. */
function lockedOrUnknown(row: SessionWithEvent | undefined): RecordedEvent {
  if (!row) return { fresh: false, session: undefined, subscribed: undefined };
  return { fresh: row.fresh, session: rowOf(checkoutSessions, row), subscribed: new Set(row.subscribed) };
}

/** What an endpoint with no filter (`events` null) takes: every type, as a constant of the statement. */
const EVERY_EVENT_TYPE = sql.raw(`array[${NOTIFICATION_EVENT_TYPES.map((type) => `'${type}'`).join(', ')}]::text[]`);

/** The event types some active notification endpoint takes, as one array (empty: none). */
const SUBSCRIBED_TYPES = sql`
  select coalesce(array_agg(distinct taken), '{}') as subscribed
  from ${notificationEndpoints} p, unnest(coalesce(p.events, ${EVERY_EVENT_TYPE})) taken
  where p.removed_at is null`;

/**
 * The session's columns, named one by one rather than `s.*`: the statement is prepared on each
 * connection (`StatementNames`), and a prepared `*` fails ("cached plan must not change result
 * type") on an instance still running when a migration adds a column.
 */
const SESSION_COLUMN_LIST = sql.raw(
  Object.values(getTableColumns(checkoutSessions))
    .map((column) => `s."${column.name}"`)
    .join(', '),
);
