import { hash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ConflictError } from '@credits/errors';
import { IdempotencyClaim, IdempotencyKeyRef, IdempotencyKeyRepository } from './idempotency-key.repository';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface IdempotencyScope {
  /** The caller: `Principal.callerId` (a person's user id, or a service key's id). */
  userId: string;
  orgId: string;
  key: string;
}

export interface IdempotentResult<T> {
  body: T;
  replayed: boolean;
}

/** A stable digest of a request body: same fields and values, same hash, whatever the key order. */
export function requestHash(body: unknown): string {
  const canonical = (value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(
          Object.keys(value)
            .sort()
            .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
        )
      : value;
  return hash('sha256', JSON.stringify(canonical(body)), 'hex');
}

/**
 * Idempotency-Key semantics, shared by every instance through the database:
 * the first request with a key claims it; a later one with the same body replays the
 * stored answer, with another body or while the first still runs it gets 409. Only
 * successful answers are stored: a failure releases the key, so a retry runs again.
 * A claim older than `lockMs` belongs to a request that died and may be taken over.
 */
@Injectable()
export class IdempotencyService {
  private readonly logger = new Logger(IdempotencyService.name);

  constructor(private readonly keys: IdempotencyKeyRepository) {}

  run<T>(
    scope: IdempotencyScope,
    hash: string,
    lockMs: number,
    /** The guarded work: its writes must themselves be safe to repeat (a claim taken over runs it again). */
    work: () => Promise<T>,
  ): Promise<IdempotentResult<T>> {
    return this.guarded(scope, hash, lockMs, async (claim) => {
      const body = await work();
      await this.keys.complete(scope.orgId, claim, claim.lockedUntil, { status: 200, body });
      return body;
    });
  }

  /**
   * As `run`, for work whose last write also stores its answer (200, the body it returns) under
   * `claim`, in the same statement: one commit for both, so no write of the work is committed
   * while its key still waits for an answer. The statement must store it only while `claim` is
   * the key's claim in progress (`IdempotencyKeyRepository.complete`'s condition).
   */
  runAnswering<T>(
    scope: IdempotencyScope,
    hash: string,
    lockMs: number,
    work: (claim: IdempotencyClaim) => Promise<T>,
  ): Promise<IdempotentResult<T>> {
    return this.guarded(scope, hash, lockMs, work);
  }

  private async guarded<T>(
    scope: IdempotencyScope,
    hash: string,
    lockMs: number,
    work: (claim: IdempotencyClaim) => Promise<T>,
  ): Promise<IdempotentResult<T>> {
    const { orgId } = scope;
    const ref: IdempotencyKeyRef = { userId: scope.userId, key: scope.key };
    const claimed = await this.claim(orgId, ref, hash, lockMs);
    if (!claimed.owned) return { body: claimed.body as T, replayed: true };
    // Only while the claim is still ours: a request slower than its lock may have been taken
    // over, and must then neither complete nor release the new owner's claim.
    try {
      return { body: await work({ ...ref, lockedUntil: claimed.lockedUntil }), replayed: false };
    } catch (error) {
      await this.keys
        .release(orgId, ref, claimed.lockedUntil)
        .catch((err: unknown) =>
          this.logger.error({ msg: 'could not release an idempotency key after a failure', err }),
        );
      throw error;
    }
  }

  private async claim(
    orgId: string,
    ref: IdempotencyKeyRef,
    hash: string,
    lockMs: number,
  ): Promise<{ owned: true; lockedUntil: Date } | { owned: false; body: unknown }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = Date.now();
      // Also the claim's token: whoever set this lockedUntil owns the key.
      const lockedUntil = new Date(now + lockMs);
      const expiresAt = new Date(now + IDEMPOTENCY_TTL_MS);
      if (await this.keys.insertClaim(orgId, ref, { requestHash: hash, lockedUntil, expiresAt }))
        return { owned: true, lockedUntil };

      const existing = await this.keys.find(orgId, ref);
      if (!existing) continue; // released meanwhile: claim again
      if (existing.expiresAt.getTime() <= now) {
        await this.keys.deleteExpired(orgId, ref, new Date(now));
        continue;
      }
      if (existing.requestHash !== hash) {
        throw new ConflictError('This Idempotency-Key was already used with a different request body');
      }
      if (existing.state === 'completed') return { owned: false, body: existing.responseBody };
      if (existing.lockedUntil.getTime() > now) {
        throw new ConflictError('A request with this Idempotency-Key is still in progress; retry later');
      }
      // The first request died without answering: take its claim over, once.
      if (await this.keys.takeOver(orgId, ref, existing.lockedUntil, lockedUntil)) return { owned: true, lockedUntil };
    }
    throw new ConflictError('A request with this Idempotency-Key is still in progress; retry later');
  }
}
