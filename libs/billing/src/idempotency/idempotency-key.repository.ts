import { Injectable } from '@nestjs/common';
import { and, eq, lt, sql, SQL, type WithSubquery } from 'drizzle-orm';
import { Db, idempotencyKeys, InjectDb } from '@credits/database';

export type IdempotencyKeyRow = typeof idempotencyKeys.$inferSelect;

/** Whose key it is within the org (each method's first argument): the caller and the key they sent. */
export interface IdempotencyKeyRef {
  userId: string;
  key: string;
}

/** A request's claim on its key: the key, and the `lockedUntil` that identifies the claim. */
export interface IdempotencyClaim extends IdempotencyKeyRef {
  lockedUntil: Date;
}

/**
 * Idempotency keys, per org, caller and key. A claim is identified by its `lockedUntil`:
 * completing or releasing it changes the row only while that claim is still the one in
 * progress, so a request that lost its claim cannot touch its successor's.
 */
@Injectable()
export class IdempotencyKeyRepository {
  /** The claim every keyed request makes and the answer most store, built once and prepared on the server. */
  private readonly claim;
  private readonly completion;

  constructor(@InjectDb() private readonly db: Db) {
    const p = (name: string) => sql.placeholder(name);
    this.claim = db
      .insert(idempotencyKeys)
      .values({
        orgId: p('orgId'),
        userId: p('userId'),
        key: p('key'),
        requestHash: p('requestHash'),
        state: 'in_progress',
        lockedUntil: p('lockedUntil'),
        expiresAt: p('expiresAt'),
      })
      .onConflictDoNothing()
      .returning({ key: idempotencyKeys.key })
      .prepare('claim_idempotency_key');
    this.completion = completionQuery(db).prepare('complete_idempotency_key');
  }

  /** Claims the key (in progress until `lockedUntil`); false when a row for it exists already. */
  async insertClaim(
    orgId: string,
    ref: IdempotencyKeyRef,
    claim: { requestHash: string; lockedUntil: Date; expiresAt: Date },
  ): Promise<boolean> {
    const inserted = await this.claim.execute({ orgId, userId: ref.userId, key: ref.key, ...claim });
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

  /** Stores the answer of the claim locked until `lockedUntil`, if it is still in progress. */
  async complete(
    orgId: string,
    ref: IdempotencyKeyRef,
    lockedUntil: Date,
    response: { status: number; body: unknown },
  ): Promise<void> {
    await this.completion.execute(completionValues(orgId, { ...ref, lockedUntil }, response));
  }

  /** Frees the key, if the claim locked until `lockedUntil` is still in progress. */
  async release(orgId: string, ref: IdempotencyKeyRef, lockedUntil: Date): Promise<void> {
    await this.db.delete(idempotencyKeys).where(claimOf(orgId, ref, lockedUntil));
  }
}

/**
 * The update that stores a claim's answer (what `complete` runs), with placeholders for
 * `completionValues`, built once to be prepared: it changes the key only while the claim is the
 * one in progress. `alongside` are statements to run in the same one (data-modifying `WITH`
 * queries), for a write that must commit together with the answer.
 */
export function completionQuery(db: Db, ...alongside: WithSubquery[]) {
  const p = (name: keyof ReturnType<typeof completionValues>) => sql.placeholder(name);
  return db
    .with(...alongside)
    .update(idempotencyKeys)
    .set({
      state: 'completed',
      responseStatus: sql`${p('responseStatus')}::int`,
      responseBody: sql`${p('responseBody')}::jsonb`,
    })
    .where(
      and(
        eq(idempotencyKeys.userId, p('keyUserId')),
        eq(idempotencyKeys.orgId, p('orgId')),
        eq(idempotencyKeys.key, p('key')),
        eq(idempotencyKeys.state, 'in_progress'),
        eq(idempotencyKeys.lockedUntil, p('lockedUntil')),
      ),
    );
}

/**
 * The values of `completionQuery`'s placeholders. A statement that embeds the update shares one
 * set of placeholder names with it: a name both halves use must mean the same value in both
 * (only `orgId` does; `keyUserId` and `responseStatus` keep the key's caller and the answer's
 * status apart from a session's `userId` and `status`).
 */
export function completionValues(orgId: string, claim: IdempotencyClaim, response: { status: number; body: unknown }) {
  return {
    orgId,
    keyUserId: claim.userId,
    key: claim.key,
    lockedUntil: claim.lockedUntil,
    responseStatus: response.status,
    responseBody: JSON.stringify(response.body),
  };
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
