import { Injectable } from '@nestjs/common';
import { and, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import { checkoutSessions, Db, DbTransaction, InjectDb } from '@credits/database';
import { completionQuery, completionValues, type IdempotencyClaim } from '../idempotency/idempotency-key.repository';

export type CheckoutSessionRow = typeof checkoutSessions.$inferSelect;

/** A session to record; its org is the method's first argument. */
export type NewCheckoutSession = Omit<typeof checkoutSessions.$inferInsert, 'orgId'>;

/** What events change on a recorded session (`updated_at` is set by every change). */
export type CheckoutSessionChanges = Partial<
  Omit<CheckoutSessionRow, 'id' | 'orgId' | 'userId' | 'createdAt' | 'updatedAt'>
>;

/** What checkout records of a session Stripe has just created. */
export type NewSessionValues = Required<
  Pick<
    NewCheckoutSession,
    'id' | 'userId' | 'bundles' | 'credits' | 'amountTotal' | 'currency' | 'status' | 'savePaymentMethod' | 'expiresAt'
  >
>;

/** A session already recorded (a replayed Stripe answer, a concurrent rebuild) is left as it is. */
function insertSession(db: Db | DbTransaction, orgId: string, session: NewCheckoutSession) {
  return db
    .insert(checkoutSessions)
    .values({ ...session, orgId })
    .onConflictDoNothing();
}

/** The values of the prepared session inserts' placeholders. */
function sessionValues(orgId: string, session: NewSessionValues) {
  return { ...session, orgId, expiresAt: session.expiresAt?.toISOString() ?? null };
}

type SessionPlaceholders = ReturnType<typeof sessionValues>;
type AnswerPlaceholders = ReturnType<typeof completionValues>;
/**
 * The session-and-answer statement's values: both halves' placeholders in one set, which does
 * not compile should a name other than `orgId` come to be used by both (the later spread would
 * silently give one half the other's value).
 */
type SessionAndAnswerValues = SessionPlaceholders &
  AnswerPlaceholders &
  Record<Exclude<keyof SessionPlaceholders & keyof AnswerPlaceholders, 'orgId'>, never>;

/**
 * Our record of each Checkout session. Sessions are also looked up by Stripe's ids alone
 * (`lock`, `exists`, `idByPaymentIntent`): those ids are unique across orgs, and they are
 * how a Stripe event names a session, before anything tells us its org; the row does.
 */
@Injectable()
export class CheckoutSessionRepository {
  /**
   * A new purchase's session, alone or with its key's answer: on the checkout route, so built
   * once and prepared on the server (no SQL built per request).
   */
  private readonly insertNew;
  private readonly insertNewAnswering;

  constructor(@InjectDb() private readonly db: Db) {
    const p = (name: keyof NewSessionValues | 'orgId') => sql.placeholder(name);
    const newSession = db
      .insert(checkoutSessions)
      .values({
        id: p('id'),
        orgId: p('orgId'),
        userId: p('userId'),
        bundles: p('bundles'),
        credits: p('credits'),
        amountTotal: p('amountTotal'),
        currency: p('currency'),
        status: p('status'),
        savePaymentMethod: p('savePaymentMethod'),
        // As text, not through the column's mapping, which cannot map a null Date.
        expiresAt: sql`${p('expiresAt')}::timestamptz`,
      })
      .onConflictDoNothing();
    this.insertNew = newSession.prepare('insert_checkout_session');
    const recorded = db.$with('recorded', {}).as(newSession.getSQL());
    this.insertNewAnswering = completionQuery(db, recorded).prepare('insert_checkout_session_answering');
  }

  /** The session's records and changes, inside the caller's transaction. */
  in(tx: DbTransaction): CheckoutSessionWriter {
    return new CheckoutSessionWriter(tx);
  }

  /** Records a session Stripe has just created; one already recorded is left as it is. */
  async insert(orgId: string, session: NewSessionValues): Promise<void> {
    await this.insertNew.execute(sessionValues(orgId, session));
  }

  /**
   * `insert`, and the checkout's answer (200, `answer`) stored under the request's Idempotency-Key
   * in the same statement (`IdempotencyService.runAnswering`): one commit, and no session
   * recorded whose key still waits for its answer. The answer is stored only while `claim` is
   * the key's claim in progress; the session is recorded either way.
   */
  async insertAnswering(
    orgId: string,
    session: NewSessionValues,
    claim: IdempotencyClaim,
    answer: unknown,
  ): Promise<void> {
    const values: SessionAndAnswerValues = {
      ...sessionValues(orgId, session),
      ...completionValues(orgId, claim, { status: 200, body: answer }),
    };
    await this.insertNewAnswering.execute(values);
  }

  /** The org's session; undefined when it is unknown or another org's. */
  async find(orgId: string, sessionId: string): Promise<CheckoutSessionRow | undefined> {
    const [row] = await this.db
      .select()
      .from(checkoutSessions)
      .where(and(eq(checkoutSessions.orgId, orgId), eq(checkoutSessions.id, sessionId)));
    return row;
  }

  /** Of these Stripe ids, the sessions we hold a record of (any org: reconciliation's question). */
  async byIds(sessionIds: string[]): Promise<CheckoutSessionRow[]> {
    if (sessionIds.length === 0) return [];
    return this.db.select().from(checkoutSessions).where(inArray(checkoutSessions.id, sessionIds));
  }

  async exists(sessionId: string): Promise<boolean> {
    const [row] = await this.db
      .select({ id: checkoutSessions.id })
      .from(checkoutSessions)
      .where(eq(checkoutSessions.id, sessionId));
    return row !== undefined;
  }

  /** The session whose payment is this PaymentIntent, once a payment event told us. */
  async idByPaymentIntent(paymentIntentId: string): Promise<string | undefined> {
    const [row] = await this.db
      .select({ id: checkoutSessions.id })
      .from(checkoutSessions)
      .where(eq(checkoutSessions.stripePaymentIntentId, paymentIntentId));
    return row?.id;
  }
}

/** Checkout sessions inside one transaction: a locked session stays locked until the commit. */
export class CheckoutSessionWriter {
  constructor(private readonly tx: DbTransaction) {}

  async insert(orgId: string, session: NewCheckoutSession): Promise<void> {
    await insertSession(this.tx, orgId, session);
  }

  /** The session, its row locked for the rest of the transaction; undefined when unknown. */
  async lock(sessionId: string): Promise<CheckoutSessionRow | undefined> {
    const [row] = await this.tx.select().from(checkoutSessions).where(eq(checkoutSessions.id, sessionId)).for('update');
    return row;
  }

  /**
   * Sets the given columns (an undefined value leaves its column as it is) and `updated_at`.
   * Written as `sql`, not with the query builder: it runs in every grant's transaction, and the
   * builder cost several times as much to build it.
   */
  async update(orgId: string, sessionId: string, changes: CheckoutSessionChanges): Promise<void> {
    const sets = [];
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      if (!Object.hasOwn(SESSION_COLUMNS, key)) throw new Error(`checkout session update: no column for '${key}'`);
      const column = SESSION_COLUMNS[key as keyof CheckoutSessionChanges];
      sets.push(sql`${sql.identifier(column.name)} = ${sql.param(value, column)}`);
    }
    await this.tx.execute(
      sql`update ${checkoutSessions} set ${sql.join([...sets, sql`updated_at = now()`], sql`, `)}
          where id = ${sessionId}::text and org_id = ${orgId}::uuid`,
    );
  }
}

const SESSION_COLUMNS = getTableColumns(checkoutSessions);
