import { Injectable } from '@nestjs/common';
import { and, eq, sql, SQL } from 'drizzle-orm';
import type { CreatedPosition } from '@credits/pagination';
import { creditHolds, Db, DbTransaction, GrantDraw, HoldStatus, InjectDb, rows } from '@credits/database';

export type HoldRow = typeof creditHolds.$inferSelect;

/** Where a listing resumes: after the hold created at `micros` (µs since the epoch) with this id. */
export type HoldPosition = CreatedPosition;

/** A hold as read, with its position in the listing. */
export type ListedHold = HoldRow & { position: HoldPosition };

/**
 * A hold counts against the available balance while it is active and not yet past its
 * `expires_at`: expiry needs no sweeper. Every reader of the available balance uses this.
 */
export const countsAsHeld = sql`${creditHolds.status} = 'active' and ${creditHolds.expiresAt} > now()`;

/** The status a reader sees: an active hold past its `expires_at` is expired, swept or not. */
const effectiveStatus = sql<HoldStatus>`case when ${creditHolds.status} = 'active' and ${creditHolds.expiresAt} <= now() then 'expired' else ${creditHolds.status} end`;

/**
 * `effectiveStatus` at the moment the row is read rather than at the transaction's start
 * (`now()`): a capture that waited for the org's balance lock sees an expiry that passed
 * while it waited, so it cannot spend a hold that a new hold has already stopped counting.
 */
const statusWhenRead = sql<HoldStatus>`case when ${creditHolds.status} = 'active' and ${creditHolds.expiresAt} <= clock_timestamp() then 'expired' else ${creditHolds.status} end`;

const holdColumns = {
  id: creditHolds.id,
  orgId: creditHolds.orgId,
  amount: creditHolds.amount,
  status: effectiveStatus,
  capturedAmount: creditHolds.capturedAmount,
  description: creditHolds.description,
  metadata: creditHolds.metadata,
  ledgerEntryId: creditHolds.ledgerEntryId,
  draws: creditHolds.draws,
  kept: creditHolds.kept,
  createdAt: creditHolds.createdAt,
  expiresAt: creditHolds.expiresAt,
  capturedAt: creditHolds.capturedAt,
  releasedAt: creditHolds.releasedAt,
};

function statusIs(status: HoldStatus): SQL {
  switch (status) {
    case 'active':
      return countsAsHeld;
    case 'expired':
      return sql`(${creditHolds.status} = 'expired' or (${creditHolds.status} = 'active' and ${creditHolds.expiresAt} <= now()))`;
    default:
      return sql`${creditHolds.status} = ${status}`;
  }
}

/** Credit holds, org id first. Reads outside a transaction; writes in the caller's. */
@Injectable()
export class HoldsRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  async insert(
    orgId: string,
    tx: DbTransaction,
    hold: {
      id: string;
      amount: number;
      expiresInSeconds: number;
      description?: string;
      metadata?: Record<string, string>;
      /** The grants it draws from, in drawdown order. */
      draws: GrantDraw[];
    },
  ): Promise<HoldRow> {
    const [row] = await tx
      .insert(creditHolds)
      .values({
        id: hold.id,
        orgId,
        amount: hold.amount,
        description: hold.description ?? null,
        metadata: hold.metadata ?? null,
        draws: hold.draws,
        // The database's clock, as `countsAsHeld` reads it.
        expiresAt: sql`now() + make_interval(secs => ${hold.expiresInSeconds})`,
      })
      .returning(holdColumns);
    return row;
  }

  async find(orgId: string, id: string, tx: Db | DbTransaction = this.db): Promise<HoldRow | undefined> {
    const [row] = await tx
      .select(holdColumns)
      .from(creditHolds)
      .where(and(eq(creditHolds.orgId, orgId), eq(creditHolds.id, id)));
    return row;
  }

  /** The hold, its row locked for the rest of the transaction: one capture or release at a time. */
  async lock(orgId: string, tx: DbTransaction, id: string): Promise<HoldRow | undefined> {
    const [row] = await tx
      .select({ ...holdColumns, status: statusWhenRead })
      .from(creditHolds)
      .where(and(eq(creditHolds.orgId, orgId), eq(creditHolds.id, id)))
      .for('update');
    return row;
  }

  /** Newest first; `after` continues after the last hold of the previous page. */
  async list(
    orgId: string,
    options: { limit: number; after?: HoldPosition; status?: HoldStatus },
  ): Promise<ListedHold[]> {
    const conditions: SQL[] = [eq(creditHolds.orgId, orgId)];
    if (options.status) conditions.push(statusIs(options.status));
    if (options.after) {
      const { micros, id } = options.after;
      conditions.push(
        sql`(${creditHolds.createdAt}, ${creditHolds.id}) < (timestamptz 'epoch' + ${micros}::bigint * interval '1 microsecond', ${id}::uuid)`,
      );
    }
    const found = await this.db
      .select({
        ...holdColumns,
        // Exact to the microsecond, which a JavaScript Date is not.
        micros: sql<string>`(extract(epoch from ${creditHolds.createdAt}) * 1000000)::bigint::text`,
      })
      .from(creditHolds)
      .where(and(...conditions))
      .orderBy(sql`${creditHolds.createdAt} desc, ${creditHolds.id} desc`)
      .limit(options.limit);
    return found.map(({ micros, ...hold }) => ({ ...hold, position: { micros, id: hold.id } }));
  }

  /** Marks a locked, active hold captured for `amount`, with the usage entry that spent it. */
  async markCaptured(
    orgId: string,
    tx: DbTransaction,
    id: string,
    capture: { amount: number; ledgerEntryId: string },
  ): Promise<HoldRow> {
    const [row] = await tx
      .update(creditHolds)
      .set({
        status: 'captured',
        capturedAmount: capture.amount,
        ledgerEntryId: capture.ledgerEntryId,
        capturedAt: sql`now()`,
      })
      .where(and(eq(creditHolds.orgId, orgId), eq(creditHolds.id, id), eq(creditHolds.status, 'active')))
      .returning(holdColumns);
    return row;
  }

  /** Marks a locked, active hold released. */
  async markReleased(orgId: string, tx: DbTransaction, id: string): Promise<HoldRow> {
    const [row] = await tx
      .update(creditHolds)
      .set({ status: 'released', releasedAt: sql`now()` })
      .where(and(eq(creditHolds.orgId, orgId), eq(creditHolds.id, id), eq(creditHolds.status, 'active')))
      .returning(holdColumns);
    return row;
  }

  /**
   * Every org's active holds past their `expires_at`, marked `expired`, at most `limit` at a time
   * (`SKIP LOCKED`: a hold being captured or released right now is left to that request).
   * Answers how many it marked. Running it twice marks nothing twice.
   */
  async expireDue(limit: number): Promise<number> {
    const marked = await rows<{ id: string }>(
      this.db,
      sql`
        update ${creditHolds} set status = 'expired'
        where id in (
          select id from ${creditHolds}
          where status = 'active' and expires_at <= now()
          order by expires_at
          limit ${limit}
          for update skip locked)
        and status = 'active'
        returning id`,
    );
    return marked.length;
  }
}
