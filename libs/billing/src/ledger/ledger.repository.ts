import { Injectable } from '@nestjs/common';
import { and, desc, eq, inArray, isNull, lt, sql, SQL } from 'drizzle-orm';
import {
  creditBalances,
  creditHolds,
  creditLedger,
  Db,
  DbTransaction,
  InjectDb,
  rows,
  TransactionType,
} from '@credits/database';

export type LedgerEntry = typeof creditLedger.$inferSelect;

/** One entry as the ledger statement writes it; its org is the method's first argument. */
export interface NewLedgerEntry {
  amount: number;
  transactionType: TransactionType;
  description: string;
  sourceRef: string;
  checkoutSessionId?: string | null;
  /** The Stripe charge's receipt (purchases and auto-refills), when known at the time. */
  receiptUrl?: string | null;
}

/** An entry written, with the org's balance after it. */
export interface WrittenEntry {
  id: string;
  balanceAfter: number;
}

async function balanceOf(db: Db | DbTransaction, orgId: string): Promise<number> {
  const [row] = await db
    .select({ balance: creditBalances.balance })
    .from(creditBalances)
    .where(eq(creditBalances.orgId, orgId));
  return row?.balance ?? 0;
}

/** Ledger entries and balances. Reads outside a transaction here; writes through `in(tx)`. */
@Injectable()
export class LedgerRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  /** The ledger's writes and locks, inside the caller's transaction. */
  in(tx: DbTransaction): LedgerWriter {
    return new LedgerWriter(tx);
  }

  balance(orgId: string): Promise<number> {
    return balanceOf(this.db, orgId);
  }

  /** Newest first; `beforeSeq` continues after the last entry of the previous page. */
  /**
   * Fills an entry's receipt, learnt after the entry was written (a job asks Stripe for the
   * charge). Only where none is set: the entry's amount and cause never change.
   */
  async setReceiptUrl(orgId: string, entryId: string, receiptUrl: string): Promise<void> {
    await this.db
      .update(creditLedger)
      .set({ receiptUrl })
      .where(and(eq(creditLedger.orgId, orgId), eq(creditLedger.id, entryId), isNull(creditLedger.receiptUrl)));
  }

  entries(
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

/**
 * The ledger inside one transaction. The org's balance row is the lock that orders its
 * entries: `credit` takes it in the statement that writes the entry, `lockBalance` before a
 * debit; either way it is held until the caller commits.
 */
export class LedgerWriter {
  constructor(private readonly tx: DbTransaction) {}

  balance(orgId: string): Promise<number> {
    return balanceOf(this.tx, orgId);
  }

  /** One of the org's entries, as this transaction sees it (undefined: none of the org's). */
  async entry(orgId: string, id: string): Promise<LedgerEntry | undefined> {
    const [row] = await this.tx
      .select()
      .from(creditLedger)
      .where(and(eq(creditLedger.orgId, orgId), eq(creditLedger.id, id)));
    return row;
  }

  /** The org's balance, its row locked for the rest of the transaction. */
  async lockBalance(orgId: string): Promise<number> {
    await this.tx.insert(creditBalances).values({ orgId, balance: 0 }).onConflictDoNothing();
    const [row] = await this.tx
      .select({ balance: creditBalances.balance })
      .from(creditBalances)
      .where(eq(creditBalances.orgId, orgId))
      .for('update');
    return row.balance;
  }

  /**
   * Credits the org's active holds keep from being spent (an expired hold keeps none, swept or
   * not). `writing`: the source of the entry being written; a hold's capture (`hold:<id>`) is
   * written before the hold is marked captured, and its credits are then in the entry, no
   * longer held.
   */
  async heldCredits(orgId: string, writing?: string): Promise<number> {
    const [row] = await rows<{ held: number | string | null }>(
      this.tx,
      sql`select coalesce(sum(amount), 0) as held from ${creditHolds}
          where org_id = ${orgId}::uuid and status = 'active' and expires_at > now()
            and 'hold:' || id::text <> ${writing ?? ''}::text`,
    );
    return Number(row?.held ?? 0);
  }

  /** Credits the refunds of one charge have debited so far (their entries' `refund:<charge>:…` sources). */
  async refundedCredits(orgId: string, chargeId: string): Promise<number> {
    const [row] = await rows<{ debited: number | string | null }>(
      this.tx,
      sql`select coalesce(-sum(amount), 0) as debited from ${creditLedger}
          where org_id = ${orgId}::uuid and transaction_type = 'refund' and starts_with(source_ref, ${`refund:${chargeId}:`}::text)`,
    );
    return Number(row?.debited ?? 0);
  }

  /** Whether an entry of this source exists. Source refs are unique across orgs (a constraint), so is this check. */
  async isApplied(sourceRef: string): Promise<boolean> {
    const [row] = await this.tx
      .select({ id: creditLedger.id })
      .from(creditLedger)
      .where(eq(creditLedger.sourceRef, sourceRef))
      .limit(1);
    return row !== undefined;
  }

  /**
   * Adds `entry.amount` (≥ 0) to the balance and writes the entry, in one statement, unless
   * its source is already in the ledger (then undefined).
   */
  credit(orgId: string, entry: NewLedgerEntry): Promise<WrittenEntry | undefined> {
    return this.write(
      orgId,
      entry,
      sql`
        insert into ${creditBalances} (org_id, balance, updated_at)
        select ${orgId}::uuid, ${entry.amount}::bigint, now() where ${notYetApplied(entry.sourceRef)}
        on conflict (org_id) do update
          set balance = ${creditBalances}.balance + excluded.balance, updated_at = excluded.updated_at
        returning balance`,
    );
  }

  /**
   * Adds `entry.amount` (< 0) to the balance and writes the entry, in one statement, unless
   * its source is already in the ledger (then undefined). The caller has locked the balance
   * and checked that it covers the debit; the balance constraint is the backstop.
   */
  debit(orgId: string, entry: NewLedgerEntry): Promise<WrittenEntry | undefined> {
    return this.write(
      orgId,
      entry,
      sql`
        update ${creditBalances} set balance = balance + ${entry.amount}::bigint, updated_at = now()
        where org_id = ${orgId}::uuid and ${notYetApplied(entry.sourceRef)}
        returning balance`,
    );
  }

  private async write(orgId: string, entry: NewLedgerEntry, addToBalance: SQL): Promise<WrittenEntry | undefined> {
    const [written] = await rows<{ id: string; balance_after: number | string | bigint }>(
      this.tx,
      sql`
      with balance as (${addToBalance}),
      ${writtenEntry} as (
        insert into ${creditLedger} (org_id, amount, balance_after, transaction_type, description, source_ref, checkout_session_id, receipt_url)
        select ${orgId}::uuid, ${entry.amount}::bigint, balance.balance, ${entry.transactionType}::text,
               ${entry.description}::text, ${entry.sourceRef}::text, ${entry.checkoutSessionId ?? null}::text,
               ${entry.receiptUrl ?? null}::text
        from balance
        returning id, balance_after)
      select id, balance_after from ${writtenEntry}`,
    );
    return written && { id: written.id, balanceAfter: Number(written.balance_after) };
  }
}

/** The CTE of the ledger statement holding the entry it wrote (`id`, `balance_after`). */
const writtenEntry: SQL = sql.raw('written_entry');

function notYetApplied(sourceRef: string): SQL {
  return sql`not exists (select 1 from ${creditLedger} where ${creditLedger.sourceRef} = ${sourceRef}::text)`;
}
