import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { and, desc, eq, inArray, isNull, lt, sql, SQL } from 'drizzle-orm';
import {
  creditBalances,
  creditGrants,
  creditLedger,
  Db,
  DbTransaction,
  GrantCategory,
  GrantDraw,
  GrantSource,
  InjectDb,
  notificationEvents,
  rows,
  TransactionType,
} from '@credits/database';
import type { NewNotificationEvent } from '../notifications/notification-events';

export type LedgerEntry = typeof creditLedger.$inferSelect;

/** One entry as the ledger statement writes it; its org is the method's first argument. */
export interface NewLedgerEntry {
  /** The entry's id, when the caller needs it before the entry is written (default: a new one). */
  id?: string;
  amount: number;
  transactionType: TransactionType;
  description: string;
  sourceRef: string;
  checkoutSessionId?: string | null;
  /** The Stripe charge's receipt (purchases and auto-refills), when known at the time. */
  receiptUrl?: string | null;
  /** A debit's draws from grants (required: every debit draws from grants). */
  draws?: GrantDraw[];
}

/** When a grant's credits stop being spendable: a moment, or a time after the grant. */
export type GrantExpiry = { at: Date } | { afterSeconds: number } | null;

/** The grant a credit entry makes, in the same statement. */
export interface NewGrant {
  category: GrantCategory;
  source: GrantSource;
  priority: number;
  /** null: from now. */
  effectiveAt: Date | null;
  expiry: GrantExpiry;
  description: string | null;
  metadata: Record<string, string> | null;
}

/** The org's balance, locked, and whether something of its grants is due to be written off first. */
export interface LockedBalance {
  balance: number;
  settleDue: boolean;
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
  async lockBalance(orgId: string): Promise<LockedBalance> {
    await this.tx.insert(creditBalances).values({ orgId, balance: 0 }).onConflictDoNothing();
    const [row] = await this.tx
      .select({
        balance: creditBalances.balance,
        settleDue: sql<boolean>`coalesce(${creditBalances.nextExpiryAt} <= now(), false)`,
      })
      .from(creditBalances)
      .where(eq(creditBalances.orgId, orgId))
      .for('update');
    return row;
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
   * Adds `entry.amount` (> 0) to the balance, writes the entry and makes its grant, in one
   * statement, unless its source is already in the ledger, or the org has something of its
   * grants to write off first (`next_expiry_at` passed): then nothing is written (undefined)
   * and the caller settles the org, under the lock this statement took, and tries again.
   *
   * `events`: the notification events the credit causes (`creditEventsOf`), written by this
   * statement with the balance it leaves as their `balance`, so that nothing but this statement
   * and the commit holds the org's balance row (their delivery job was written before it).
   */
  credit(
    orgId: string,
    entry: NewLedgerEntry,
    grant: NewGrant,
    /** Their `balance` is added by this statement. */
    events: readonly NewNotificationEvent[] = [],
  ): Promise<WrittenEntry | undefined> {
    const effectiveAt = grant.effectiveAt ? sql`${grant.effectiveAt.toISOString()}::timestamptz` : sql`now()`;
    const expiresAt = grantExpiry(grant.expiry, effectiveAt);
    const eventsMade =
      events.length === 0
        ? sql``
        : sql`,
      events_made as (
        insert into ${notificationEvents} (id, type, org_id, data)
        select e.id, e.type, ${orgId}::uuid, e.data || jsonb_build_object('balance', ${writtenEntry}.balance_after)
        from jsonb_to_recordset(${JSON.stringify(events)}::jsonb) as e(id text, type text, data jsonb), ${writtenEntry})`;
    return this.write(
      orgId,
      entry,
      sql`
        insert into ${creditBalances} as b (org_id, balance, next_expiry_at, updated_at)
        select ${orgId}::uuid, ${entry.amount}::bigint, ${expiresAt}, now() where ${notYetApplied(entry.sourceRef)}
        on conflict (org_id) do update
          set balance = b.balance + excluded.balance, updated_at = excluded.updated_at,
              next_expiry_at = least(b.next_expiry_at, excluded.next_expiry_at)
          where b.next_expiry_at is null or b.next_expiry_at > now()
        returning balance`,
      sql`,
      grant_made as (
        insert into ${creditGrants} (org_id, amount, remaining, category, source, source_ref, ledger_entry_id, priority,
                                     effective_at, expires_at, description, metadata)
        select ${orgId}::uuid, ${entry.amount}::bigint, ${entry.amount}::bigint, ${grant.category}::text, ${grant.source}::text,
               ${entry.sourceRef}::text, ${writtenEntry}.id, ${grant.priority}::int,
               ${effectiveAt}, ${expiresAt},
               ${grant.description}::text, ${grant.metadata === null ? null : JSON.stringify(grant.metadata)}::jsonb
        from ${writtenEntry})${eventsMade}`,
    );
  }

  /**
   * Adds `entry.amount` (< 0) to the balance, writes the entry and takes its draws from their
   * grants, in one statement, unless its source is already in the ledger (then undefined).
   * The caller has locked the balance and drawn within what the grants have; the balance and
   * `remaining` constraints are the backstop.
   */
  debit(orgId: string, entry: NewLedgerEntry): Promise<WrittenEntry | undefined> {
    const draws = JSON.stringify(entry.draws ?? []);
    return this.write(
      orgId,
      entry,
      sql`
        update ${creditBalances} set balance = balance + ${entry.amount}::bigint, updated_at = now()
        where org_id = ${orgId}::uuid and ${notYetApplied(entry.sourceRef)}
        returning balance`,
      sql`,
      grants_drawn as (
        update ${creditGrants} g set remaining = g.remaining - d.amount
        from jsonb_to_recordset(${draws}::jsonb) as d(grant_id uuid, amount bigint)
        where g.org_id = ${orgId}::uuid and g.id = d.grant_id and exists (select 1 from ${writtenEntry}))`,
    );
  }

  private async write(
    orgId: string,
    entry: NewLedgerEntry,
    addToBalance: SQL,
    alongside: SQL,
  ): Promise<WrittenEntry | undefined> {
    const [written] = await rows<{ id: string; balance_after: number | string | bigint }>(
      this.tx,
      sql`
      with balance as (${addToBalance}),
      ${writtenEntry} as (
        insert into ${creditLedger} (id, org_id, amount, balance_after, transaction_type, description, source_ref, checkout_session_id, receipt_url, draws)
        select ${entry.id ?? randomUUID()}::uuid, ${orgId}::uuid, ${entry.amount}::bigint, balance.balance, ${entry.transactionType}::text,
               ${entry.description}::text, ${entry.sourceRef}::text, ${entry.checkoutSessionId ?? null}::text,
               ${entry.receiptUrl ?? null}::text, ${entry.draws ? JSON.stringify(entry.draws) : null}::jsonb
        from balance
        returning id, balance_after)${alongside}
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

/** A grant's `expires_at`, a lifetime counted from when it takes effect (the database's clock). */
function grantExpiry(expiry: GrantExpiry, effectiveAt: SQL): SQL {
  if (expiry === null) return sql`null::timestamptz`;
  if ('at' in expiry) return sql`${expiry.at.toISOString()}::timestamptz`;
  return sql`${effectiveAt} + make_interval(secs => ${expiry.afterSeconds})`;
}
