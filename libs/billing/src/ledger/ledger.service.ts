import { Injectable } from '@nestjs/common';
import { and, desc, eq, inArray, lt, sql, SQL } from 'drizzle-orm';
import { creditBalances, creditLedger, Db, InjectDb, TransactionType } from '@credits/database';

/** A transaction handle or the database itself: ledger writes join the caller's transaction. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface LedgerEntryInput {
  orgId: string;
  amount: number;
  transactionType: TransactionType;
  description: string;
  /** Unique per cause; applying the same source twice is a no-op. */
  sourceRef: string;
  checkoutSessionId?: string | null;
}

export interface AppliedEntry {
  applied: boolean;
  balance: number;
  entryId?: string;
}

export type LedgerEntry = typeof creditLedger.$inferSelect;

export class InsufficientBalanceError extends Error {
  constructor(readonly balance: number, readonly amount: number) {
    super(`balance ${balance} cannot cover ${-amount}`);
  }
}

/**
 * The only writer of credits. Each entry and the balance move together in the caller's
 * transaction; the org's balance row is locked first so concurrent entries for one org
 * apply one after another, and `source_ref` is unique so a cause applies at most once.
 * Invariant: balance = sum(ledger amounts) and never below zero.
 */
@Injectable()
export class LedgerService {
  constructor(@InjectDb() private readonly db: Db) {}

  async apply(tx: Tx, input: LedgerEntryInput): Promise<AppliedEntry> {
    const balance = await this.lockBalance(tx, input.orgId);
    const already = await tx
      .select({ id: creditLedger.id })
      .from(creditLedger)
      .where(eq(creditLedger.sourceRef, input.sourceRef))
      .limit(1);
    if (already.length > 0) return { applied: false, balance };

    const next = balance + input.amount;
    if (next < 0) throw new InsufficientBalanceError(balance, input.amount);
    const [entry] = await tx
      .insert(creditLedger)
      .values({
        orgId: input.orgId,
        amount: input.amount,
        balanceAfter: next,
        transactionType: input.transactionType,
        description: input.description,
        sourceRef: input.sourceRef,
        checkoutSessionId: input.checkoutSessionId ?? null,
      })
      .returning({ id: creditLedger.id });
    await tx.update(creditBalances).set({ balance: next, updatedAt: new Date() }).where(eq(creditBalances.orgId, input.orgId));
    return { applied: true, balance: next, entryId: entry.id };
  }

  /** The org's balance, its row locked for the rest of the transaction. */
  async lockBalance(tx: Tx, orgId: string): Promise<number> {
    await tx.insert(creditBalances).values({ orgId, balance: 0 }).onConflictDoNothing();
    const [row] = await tx
      .select({ balance: creditBalances.balance })
      .from(creditBalances)
      .where(eq(creditBalances.orgId, orgId))
      .for('update');
    return row.balance;
  }

  async balance(orgId: string): Promise<number> {
    const [row] = await this.db.select({ balance: creditBalances.balance }).from(creditBalances).where(eq(creditBalances.orgId, orgId));
    return row?.balance ?? 0;
  }

  /** Newest first; `beforeSeq` continues after the last entry of the previous page. */
  async entries(orgId: string, options: { limit: number; beforeSeq?: number; types?: TransactionType[] }): Promise<LedgerEntry[]> {
    const conditions: SQL[] = [eq(creditLedger.orgId, orgId)];
    if (options.beforeSeq !== undefined) conditions.push(lt(creditLedger.seq, options.beforeSeq));
    if (options.types?.length) conditions.push(inArray(creditLedger.transactionType, options.types));
    return this.db
      .select()
      .from(creditLedger)
      .where(and(...conditions))
      .orderBy(desc(creditLedger.seq))
      .limit(options.limit);
  }

  /** Sum of the refund entries already written for a session (negative or zero). */
  async refundedFor(tx: Tx, checkoutSessionId: string): Promise<number> {
    const [row] = await tx
      .select({ total: sql<string>`coalesce(sum(${creditLedger.amount}), 0)` })
      .from(creditLedger)
      .where(and(eq(creditLedger.checkoutSessionId, checkoutSessionId), eq(creditLedger.transactionType, 'refund')));
    return Number(row.total);
  }
}
