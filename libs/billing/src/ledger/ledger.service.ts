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
  constructor(
    readonly balance: number,
    readonly amount: number,
  ) {
    super(`balance ${balance} cannot cover ${-amount}`);
  }
}

/**
 * The only writer of credits. Each entry and the balance move together in the caller's
 * transaction; `source_ref` is unique so a cause applies at most once.
 * Invariant: balance = sum(ledger amounts) and never below zero (also a constraint).
 *
 * The org's balance row is the lock that orders concurrent entries for one org, so it is
 * held as briefly as possible: a credit takes it in the one statement that adds to the
 * balance and writes the entry, and keeps it only until the caller commits.
 */
@Injectable()
export class LedgerService {
  constructor(@InjectDb() private readonly db: Db) {}

  /**
   * `alongside`: a write of the caller's that runs in the same statement, whether or not the
   * entry applies (one round trip less while the org's balance row is locked).
   */
  async apply(tx: Tx, input: LedgerEntryInput, alongside?: SQL): Promise<AppliedEntry> {
    // Callers that can race on one source already hold a lock that orders them (the checkout
    // session's row for purchases and refunds); the unique constraint on source_ref is the
    // backstop. A source already applied leaves the balance and the ledger untouched.
    const notYetApplied = sql`not exists (select 1 from ${creditLedger} where ${creditLedger.sourceRef} = ${input.sourceRef}::text)`;
    let addToBalance: SQL;
    if (input.amount >= 0) {
      // A credit checks its source, adds to the balance and writes its entry in one statement.
      addToBalance = sql`
        insert into ${creditBalances} (org_id, balance, updated_at)
        select ${input.orgId}::uuid, ${input.amount}::bigint, now() where ${notYetApplied}
        on conflict (org_id) do update
          set balance = ${creditBalances}.balance + excluded.balance, updated_at = excluded.updated_at
        returning balance`;
    } else {
      // A debit checks its source before the balance: a debit already applied is a no-op even
      // when what is left could not cover it again. Then it checks the balance under its lock.
      const [already] = await tx
        .select({ id: creditLedger.id })
        .from(creditLedger)
        .where(eq(creditLedger.sourceRef, input.sourceRef))
        .limit(1);
      if (already) {
        if (alongside) await tx.execute(alongside);
        return { applied: false, balance: await this.currentBalance(tx, input.orgId) };
      }
      const balance = await this.lockBalance(tx, input.orgId);
      if (balance + input.amount < 0) throw new InsufficientBalanceError(balance, input.amount);
      addToBalance = sql`
        update ${creditBalances} set balance = balance + ${input.amount}::bigint, updated_at = now()
        where org_id = ${input.orgId}::uuid and ${notYetApplied}
        returning balance`;
    }
    const result = await tx.execute(sql`
      with balance as (${addToBalance})${alongside ? sql`, alongside as (${alongside})` : sql``}
      insert into ${creditLedger} (org_id, amount, balance_after, transaction_type, description, source_ref, checkout_session_id)
      select ${input.orgId}::uuid, ${input.amount}::bigint, balance.balance, ${input.transactionType}::text,
             ${input.description}::text, ${input.sourceRef}::text, ${input.checkoutSessionId ?? null}::text
      from balance
      returning id, balance_after`);
    const [entry] = (result as { rows: { id: string; balance_after: number | string | bigint }[] }).rows;
    if (!entry) return { applied: false, balance: await this.currentBalance(tx, input.orgId) };
    return { applied: true, balance: Number(entry.balance_after), entryId: entry.id };
  }

  private async currentBalance(tx: Tx, orgId: string): Promise<number> {
    const [row] = await tx
      .select({ balance: creditBalances.balance })
      .from(creditBalances)
      .where(eq(creditBalances.orgId, orgId));
    return row?.balance ?? 0;
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
    const [row] = await this.db
      .select({ balance: creditBalances.balance })
      .from(creditBalances)
      .where(eq(creditBalances.orgId, orgId));
    return row?.balance ?? 0;
  }

  /** Newest first; `beforeSeq` continues after the last entry of the previous page. */
  async entries(
    orgId: string,
    options: { limit: number; beforeSeq?: number; types?: TransactionType[] },
  ): Promise<LedgerEntry[]> {
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
}
