import { Injectable } from '@nestjs/common';
import { sql } from 'drizzle-orm';
import { creditBalances, creditHolds, creditLedger, DbTransaction, rows, usageRecords } from '@credits/database';

/** A usage record as the group commit reads it: enough to replay it or refuse its key. */
export interface ExistingUsage {
  key: string;
  requestHash: string;
  ledgerEntryId: string | null;
  balanceAfter: number;
  response: unknown;
}

/** What the group commit sees once it holds the org's balance row. */
export interface DebitSnapshot {
  balance: number;
  held: number;
  /** The transaction's time, to the millisecond: every entry of the group is stamped with it. */
  now: Date;
  existing: ExistingUsage[];
}

/** One usage record to write, with its ledger entry when `debited > 0`. */
export interface NewUsage {
  recordId: string;
  entryId: string;
  key: string;
  requestHash: string;
  amount: number;
  debited: number;
  balanceAfter: number;
  description: string;
  metadata: Record<string, string> | null;
  response: unknown;
}

export const USAGE_RECORD_TTL_DAYS = 30;

/**
 * The SQL of usage debits, inside the group commit's transaction (`in(tx)`). Three statements
 * per group whatever its size: lock the balance, read holds and keys, write everything.
 */
@Injectable()
export class UsageRepository {
  in(tx: DbTransaction): UsageWriter {
    return new UsageWriter(tx);
  }
}

export class UsageWriter {
  constructor(private readonly tx: DbTransaction) {}

  /** The org's balance row, locked until commit; undefined when the org never had credits. */
  async lockBalance(orgId: string): Promise<number | undefined> {
    const [row] = await rows<{ balance: string | number }>(
      this.tx,
      sql`select balance from ${creditBalances} where org_id = ${orgId}::uuid for update`,
    );
    return row === undefined ? undefined : Number(row.balance);
  }

  /**
   * Σ active unexpired holds, the live records of `keys`, and the transaction's time. Run after
   * `lockBalance` as its own statement: in READ COMMITTED it then sees every hold and record
   * committed before the lock was granted. Records past their 30 days are deleted here so the
   * key can be used again (the write statement then sees them gone).
   */
  async snapshot(orgId: string, keys: string[]): Promise<Omit<DebitSnapshot, 'balance'>> {
    const [row] = await rows<{ held: string | number; now_ms: string | number; existing: ExistingUsage[] | null }>(
      this.tx,
      sql`
      with expired as (
        delete from ${usageRecords}
        where org_id = ${orgId}::uuid and idempotency_key in (select jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb))
          and expires_at <= now()
      )
      select
        (select coalesce(sum(amount), 0) from ${creditHolds}
          where org_id = ${orgId}::uuid and status = 'active' and expires_at > now()) as held,
        floor(extract(epoch from now()) * 1000) as now_ms,
        (select json_agg(json_build_object(
            'key', idempotency_key, 'requestHash', request_hash, 'ledgerEntryId', ledger_entry_id,
            'balanceAfter', balance_after, 'response', response))
          from ${usageRecords}
          where org_id = ${orgId}::uuid and idempotency_key in (select jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb))
            and expires_at > now()) as existing`,
    );
    return {
      held: Number(row.held),
      now: new Date(Number(row.now_ms)),
      existing: (row.existing ?? []).map((e) => ({ ...e, balanceAfter: Number(e.balanceAfter) })),
    };
  }

  /**
   * Every ledger entry, usage record and the balance of one group, in one statement. Entries
   * are inserted in the group's order (their `seq` follows it) with the running `balance_after`
   * computed by the caller under the lock; the balance moves by their total. A key another
   * instance recorded meanwhile fails the whole statement on the primary key.
   */
  async write(orgId: string, now: Date, usages: NewUsage[]): Promise<void> {
    if (usages.length === 0) return;
    const total = usages.reduce((sum, u) => sum + u.debited, 0);
    const input = JSON.stringify(
      usages.map((u, ord) => ({
        ord,
        record_id: u.recordId,
        entry_id: u.entryId,
        key: u.key,
        request_hash: u.requestHash,
        amount: u.amount,
        debited: u.debited,
        balance_after: u.balanceAfter,
        description: u.description,
        metadata: u.metadata,
        response: u.response,
      })),
    );
    const at = now.toISOString();
    await this.tx.execute(sql`
      with input as (
        select * from jsonb_to_recordset(${input}::jsonb) as x(
          ord int, record_id uuid, entry_id uuid, key text, request_hash text, amount bigint, debited bigint,
          balance_after bigint, description text, metadata jsonb, response jsonb)
      ),
      entries as (
        insert into ${creditLedger} (id, org_id, amount, balance_after, transaction_type, description, source_ref, metadata, created_at)
        select entry_id, ${orgId}::uuid, -debited, balance_after, 'usage', description, 'usage:' || record_id, metadata, ${at}::timestamptz
        from input where debited > 0 order by ord
      ),
      records as (
        insert into ${usageRecords} (org_id, idempotency_key, id, request_hash, amount, debited, ledger_entry_id, balance_after, response, created_at, expires_at)
        select ${orgId}::uuid, key, record_id, request_hash, amount, debited, case when debited > 0 then entry_id end,
               balance_after, response, ${at}::timestamptz, ${at}::timestamptz + interval '${sql.raw(String(USAGE_RECORD_TTL_DAYS))} days'
        from input
      )
      update ${creditBalances} set balance = balance - ${total}::bigint, updated_at = now()
      where org_id = ${orgId}::uuid and ${total}::bigint > 0`);
  }
}
