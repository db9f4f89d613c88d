import { createHash } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { OrgContext, Principal } from '@credits/auth';
import { Db, DbTransaction, InjectDb } from '@credits/database';
import { ConflictError, InsufficientCreditsError, NotFoundError, ValidationError } from '@credits/errors';
import { createdCursor } from '@credits/pagination';
import { AFTER_DEBIT, type AfterDebit } from '../auto-refill/after-debit';
import { toCreditTransaction } from '../credits/credits.dto';
import { splitCapture } from '../grants/drawdown';
import { GrantSettlement } from '../grants/grant-settlement';
import { IdempotencyService, IdempotentResult, requestHash } from '../idempotency/idempotency.service';
import { LedgerService } from '../ledger/ledger.service';
import {
  CaptureCreditHoldRequest,
  CapturedCreditHold,
  CreateCreditHoldRequest,
  CreditHold,
  CreditHoldPage,
  ListHoldsQuery,
  ReleasedCreditHold,
} from './holds.dto';
import { HoldRow, HoldsRepository } from './holds.repository';

/** Far longer than creating a hold takes: only a dead request's claim on its key is taken over. */
const IDEMPOTENCY_LOCK_MS = 30_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The listing resumes after this hold (its creation time in µs, and its id for ties). */
const holdCursor = createdCursor('h');

export function toCreditHold(row: HoldRow): CreditHold {
  return {
    id: row.id,
    amount: row.amount,
    status: row.status,
    captured_amount: row.capturedAmount,
    description: row.description,
    metadata: row.metadata,
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt.toISOString(),
    captured_at: row.capturedAt?.toISOString() ?? null,
    released_at: row.releasedAt?.toISOString() ?? null,
  };
}

/**
 * Holds: credits reserved now and spent (captured) or given back (released) later.
 *
 * A hold draws from grants when it is made (DESIGN §1.4): what it drew is not spendable while
 * it counts (active and before `expires_at`). Whatever lowers what is available (a hold, a
 * usage debit) first locks the org's balance row, so two of them cannot both draw the same
 * credits. Capturing or releasing one hold locks that hold's row, so of two captures exactly
 * one finds it active.
 */
@Injectable()
export class HoldsService {
  constructor(
    @InjectDb() private readonly db: Db,
    private readonly holds: HoldsRepository,
    private readonly ledger: LedgerService,
    private readonly idempotency: IdempotencyService,
    private readonly settlement: GrantSettlement,
    @Optional() @Inject(AFTER_DEBIT) private readonly afterDebit?: AfterDebit,
  ) {}

  create(
    org: OrgContext,
    principal: Principal,
    request: CreateCreditHoldRequest,
    idempotencyKey: string,
  ): Promise<IdempotentResult<CreditHold>> {
    const scope = { userId: principal.callerId, orgId: org.id, key: idempotencyKey };
    const id = holdIdOf(org.id, principal.callerId, idempotencyKey);
    return this.idempotency.run(scope, requestHash(request), IDEMPOTENCY_LOCK_MS, async () =>
      toCreditHold(await this.reserve(org.id, id, request)),
    );
  }

  /**
   * The hold's id comes from its Idempotency-Key, so the primary key stops a second hold for one
   * key even when the key's stored answer was lost (a crash between the hold's commit and the
   * answer's, or a key reused after its 24 h): a request that finds its hold answers it.
   */
  private reserve(orgId: string, id: string, request: CreateCreditHoldRequest): Promise<HoldRow> {
    return this.db.transaction(async (tx) => {
      await this.ledger.lockBalance(tx, orgId);
      // Looked for under the lock: a request that took over a dead one's key sees its hold.
      const made = await this.holds.find(orgId, id, tx);
      if (made) {
        if (!sameHold(made, request)) {
          throw new ConflictError('This Idempotency-Key was already used for another hold');
        }
        return made;
      }
      // A hold draws from grants in drawdown order when it is made: what it drew is its own.
      const grants = await this.ledger.spendable(tx, orgId);
      const draws = grants.draw(request.amount);
      if (!draws) {
        throw new InsufficientCreditsError(`Cannot hold ${request.amount} credits: ${grants.available} available`);
      }
      const hold = await this.holds.insert(orgId, tx, {
        id,
        amount: request.amount,
        expiresInSeconds: request.expires_in,
        description: request.description,
        metadata: request.metadata,
        draws,
      });
      // A hold lowers what is available like a debit: auto-refill may start now, not at the capture.
      await this.afterDebit?.afterDebit(tx, orgId, grants.available);
      return hold;
    });
  }

  async get(orgId: string, id: string): Promise<CreditHold> {
    const row = UUID.test(id) ? await this.holds.find(orgId, id) : undefined;
    if (!row) throw holdNotFound();
    return toCreditHold(row);
  }

  async list(orgId: string, query: ListHoldsQuery): Promise<CreditHoldPage> {
    const after = query.cursor === undefined ? undefined : holdCursor.decode(query.cursor);
    const found = await this.holds.list(orgId, { limit: query.limit + 1, after, status: query.status });
    return holdCursor.page(found, query.limit, toCreditHold, (row) => row.position);
  }

  /** One `usage` entry for what is spent (source `hold:<id>`); the rest stops counting with it. */
  async capture(orgId: string, id: string, request: CaptureCreditHoldRequest): Promise<CapturedCreditHold> {
    return this.db.transaction(async (tx) => {
      // The balance row first, as a new hold takes it: whether this hold still counts is then
      // decided under the same lock that a hold counting it as expired would have taken.
      await this.ledger.lockBalance(tx, orgId);
      const hold = activeFor('capture', await this.lockHold(orgId, tx, id));
      const amount = request.amount ?? hold.amount;
      if (amount > hold.amount) {
        throw new ValidationError([
          {
            loc: ['body', 'amount'],
            msg: `Input should be less than or equal to ${hold.amount}, the amount held`,
            type: 'less_than_equal',
          },
        ]);
      }
      // It spends what it drew, in the order drawn, even from a grant expired or voided since
      // (the hold was made inside the grant's window); the rest goes back to its grants.
      // Nothing else spends what a hold drew (refunds, voids and expiries leave held parts),
      // so the draws are always there to take.
      const applied = await this.ledger.apply(tx, {
        orgId,
        amount: -amount,
        transactionType: 'usage',
        description: hold.description ?? `Capture of hold ${hold.id}`,
        sourceRef: `hold:${hold.id}`,
        draws: splitCapture(hold.draws, amount).spent,
      });
      // The hold's row lock orders captures, so its source cannot be in the ledger already;
      // the unique source_ref is the backstop.
      if (!applied.applied || !applied.entryId) throw new ConflictError('This hold was already captured');
      const captured = await this.holds.markCaptured(orgId, tx, hold.id, { amount, ledgerEntryId: applied.entryId });
      // Read under the balance lock, which writing `kept` takes too: empty, nothing to write off.
      if (hold.kept.length > 0) await this.settlement.writeOffGivenBack(tx, orgId);
      const entry = await this.ledger.entry(tx, orgId, applied.entryId);
      return { hold: toCreditHold(captured), transaction: toCreditTransaction(entry!) };
    });
  }

  /** Releasing a released hold answers it again: a retried release is not an error. */
  async release(orgId: string, id: string): Promise<ReleasedCreditHold> {
    return this.db.transaction(async (tx) => {
      // The balance row first, as a capture takes it: what goes back to a grant written off
      // meanwhile is written off in this transaction.
      await this.ledger.lockBalance(tx, orgId);
      const hold = await this.lockHold(orgId, tx, id);
      if (hold.status === 'released') return { hold: toCreditHold(hold) };
      activeFor('release', hold);
      const released = await this.holds.markReleased(orgId, tx, hold.id);
      if (hold.kept.length > 0) await this.settlement.writeOffGivenBack(tx, orgId);
      return { hold: toCreditHold(released) };
    });
  }

  /** The hold, its row locked until the transaction ends; 404 when the org has no such hold. */
  private async lockHold(orgId: string, tx: DbTransaction, id: string): Promise<HoldRow> {
    const hold = UUID.test(id) ? await this.holds.lock(orgId, tx, id) : undefined;
    if (!hold) throw holdNotFound();
    return hold;
  }

  /** Marks every org's holds past their `expires_at` as `expired`; answers how many. Idempotent. */
  async expireDue(batch = 1000): Promise<number> {
    let total = 0;
    for (;;) {
      const marked = await this.holds.expireDue(batch);
      total += marked;
      if (marked < batch) return total;
    }
  }
}

/** A UUID (version 8: custom) derived from whose key it is: the same key, the same hold. */
export function holdIdOf(orgId: string, userId: string, idempotencyKey: string): string {
  const hex = createHash('sha256').update(`hold\n${orgId}\n${userId}\n${idempotencyKey}`).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Whether a hold found under a key is the one this request asks for (its lifetime aside, which moved on). */
function sameHold(hold: HoldRow, request: CreateCreditHoldRequest): boolean {
  return (
    hold.amount === request.amount &&
    hold.description === (request.description ?? null) &&
    requestHash(hold.metadata ?? null) === requestHash(request.metadata ?? null)
  );
}

/** The hold if it is still active (not captured, released, or past its `expires_at`); else 409. */
function activeFor(action: 'capture' | 'release', hold: HoldRow): HoldRow {
  if (hold.status !== 'active') throw new ConflictError(`Cannot ${action} a hold that is ${hold.status}`);
  return hold;
}

function holdNotFound(): NotFoundError {
  return new NotFoundError('No such hold');
}
