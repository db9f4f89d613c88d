import { Injectable } from '@nestjs/common';
import { and, eq, lt, sql, SQL } from 'drizzle-orm';
import { Db, idempotencyKeys, InjectDb } from '@credits/database';

export type IdempotencyKeyRow = typeof idempotencyKeys.$inferSelect;

/** Whose key it is within the org (each method's first argument): the caller and the key they sent. */
export interface IdempotencyKeyRef {
  userId: string;
  key: string;
}

/**
 * Idempotency keys, per org, caller and key. A claim is identified by its `lockedUntil`:
 * completing or releasing it changes the row only while that claim is still the one in
 * progress, so a request that lost its claim cannot touch its successor's.
 */
@Injectable()
export class IdempotencyKeyRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  /** Claims the key (in progress until `lockedUntil`); false when a row for it exists already. */
  async insertClaim(
    orgId: string,
    ref: IdempotencyKeyRef,
    claim: { requestHash: string; lockedUntil: Date; expiresAt: Date },
  ): Promise<boolean> {
    const inserted = await this.db
      .insert(idempotencyKeys)
      .values({
        orgId,
        userId: ref.userId,
        key: ref.key,
        requestHash: claim.requestHash,
        state: 'in_progress',
        lockedUntil: claim.lockedUntil,
        expiresAt: claim.expiresAt,
      })
      .onConflictDoNothing()
      .returning({ key: idempotencyKeys.key });
    return inserted.length > 0;
  }

  async find(orgId: string, ref: IdempotencyKeyRef): Promise<IdempotencyKeyRow | undefined> {
    const [row] = await this.db.select().from(idempotencyKeys).where(keyOf(orgId, ref));
    return row;
  }

  /** Deletes the key if it expired before `now`. */
  async deleteExpired(orgId: string, ref: IdempotencyKeyRef, now: Date): Promise<void> {
    await this.db.delete(idempotencyKeys).where(and(keyOf(orgId, ref), lt(idempotencyKeys.expiresAt, now)));
  }

  /** Moves the claim locked until `from` to `to`; false when another request moved it first. */
  async takeOver(orgId: string, ref: IdempotencyKeyRef, from: Date, to: Date): Promise<boolean> {
    const taken = await this.db
      .update(idempotencyKeys)
      .set({ lockedUntil: to })
      .where(and(keyOf(orgId, ref), eq(idempotencyKeys.lockedUntil, from)))
      .returning({ key: idempotencyKeys.key });
    return taken.length > 0;
  }

  /**
   * Stores the answer of the claim locked until `lockedUntil`, if it is still in progress.
   * `alongside` is written in the same statement (one round trip, one commit).
   */
  async complete(
    orgId: string,
    ref: IdempotencyKeyRef,
    lockedUntil: Date,
    response: { status: number; body: unknown },
    alongside?: SQL,
  ): Promise<void> {
    const complete = this.db
      .update(idempotencyKeys)
      .set({ state: 'completed', responseStatus: response.status, responseBody: response.body })
      .where(claimOf(orgId, ref, lockedUntil));
    // A data-modifying WITH runs exactly once, in the same statement and transaction.
    if (alongside) await this.db.execute(sql`with alongside as (${alongside}) ${complete.getSQL()}`);
    else await complete;
  }

  /** Frees the key, if the claim locked until `lockedUntil` is still in progress. */
  async release(orgId: string, ref: IdempotencyKeyRef, lockedUntil: Date): Promise<void> {
    await this.db.delete(idempotencyKeys).where(claimOf(orgId, ref, lockedUntil));
  }
}

function keyOf(orgId: string, ref: IdempotencyKeyRef): SQL | undefined {
  return and(
    eq(idempotencyKeys.userId, ref.userId),
    eq(idempotencyKeys.orgId, orgId),
    eq(idempotencyKeys.key, ref.key),
  );
}

function claimOf(orgId: string, ref: IdempotencyKeyRef, lockedUntil: Date): SQL | undefined {
  return and(keyOf(orgId, ref), eq(idempotencyKeys.state, 'in_progress'), eq(idempotencyKeys.lockedUntil, lockedUntil));
}
