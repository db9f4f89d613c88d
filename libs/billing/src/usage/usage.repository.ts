import { Injectable } from '@nestjs/common';
import { sql } from 'drizzle-orm';
import {
  autoRefillSettings,
  creditBalances,
  creditGrants,
  creditLedger,
  DbTransaction,
  bigintArray,
  GrantDraw,
  plannedEachRun,
  rows,
  textArray,
  usageRecords,
  uuidArray,
} from '@credits/database';
import type { SpendableGrant } from '../grants/drawdown';
import { spendableGrants, type SpendableGrantRow, toSpendable } from '../grants/grants.repository';

/** A usage record as the group commit reads it: enough to replay it or refuse its key. */
export interface ExistingUsage {
  /** The record's id: a debit that finds its own id wrote it in an attempt whose answer was lost. */
  recordId: string;
  orgId: string;
  key: string;
  requestHash: string;
  ledgerEntryId: string | null;
  balanceAfter: number;
  response: unknown;
}

/** What the group commit sees once it holds its orgs' balance rows. */
export interface DebitSnapshot {
  /** Each org's grants in effect, with what of each is spendable (absent: none). */
  grants: Map<string, SpendableGrant[]>;
  /**
   * The auto-refill threshold of each org with auto-refill on and a card saved (absent: off):
   * the group asks auto-refill only about orgs it leaves below theirs, not once per org.
   */
  refillThresholds: Map<string, number>;
  /** The transaction's time, to the millisecond: every entry of the group is stamped with it. */
  now: Date;
  existing: ExistingUsage[];
}

/** One usage record to write, with its ledger entry when `debited > 0`. */
export interface NewUsage {
  orgId: string;
  recordId: string;
  entryId: string;
  key: string;
  requestHash: string;
  amount: number;
  debited: number;
  /** The grants the debit took its credits from (empty when nothing was debited). */
  draws: GrantDraw[];
  balanceAfter: number;
  description: string;
  metadata: Record<string, string> | null;
  response: unknown;
}

export const USAGE_RECORD_TTL_DAYS = 30;

/**
 * The SQL of usage debits, inside the group commit's transaction (`in(tx)`). Three statements
 * per group whatever its size and number of orgs: lock the balances, read holds and keys,
 * write everything. Every method is scoped by the org ids it is given. Each is planned for
 * its group on every run (`plannedEachRun`): a plan kept from when the tables were small
 * scanned them whole once they had grown.
 */
@Injectable()
export class UsageRepository {
  in(tx: DbTransaction): UsageWriter {
    return new UsageWriter(tx);
  }
}

export class UsageWriter {
  constructor(private readonly tx: DbTransaction) {}

  /**
   * The orgs' balance rows, locked until commit, in org id order (so two groups sharing orgs
   * never wait on each other in a cycle), and the orgs with something of their grants due to
   * be written off first. An org without a row (never had credits) is absent.
   */
  async lockBalances(orgIds: string[]): Promise<{ balances: Map<string, number>; settleDue: string[] }> {
    const locked = await rows<{ org_id: string; balance: string | number; settle_due: boolean }>(
      this.tx,
      plannedEachRun(
        sql`select org_id, balance, coalesce(next_expiry_at <= now(), false) as settle_due from ${creditBalances}
            where org_id = any(${uuidArray(orgIds)})
            order by org_id for update`,
      ),
    );
    return {
      balances: new Map(locked.map((row) => [row.org_id, Number(row.balance)])),
      settleDue: locked.filter((row) => row.settle_due).map((row) => row.org_id),
    };
  }

  /**
   * The orgs' spendable grants, the live records of the (org, key) pairs, and the
   * transaction's time. Run after `lockBalances` as its own statement: in READ COMMITTED it then
   * sees every hold and record committed before the locks were granted. Records past their 30
   * days are deleted here so the key can be used again (the write statement then sees them gone).
   */
  async snapshot(wanted: Array<{ orgId: string; key: string }>): Promise<DebitSnapshot> {
    // Arrays, not a JSON list taken apart in SQL (estimated at 100 rows whatever it holds): the
    // planner then knows how few orgs and keys there are and reads their rows by index, not
    // every org's grants (test/database/usage-plans.spec.ts).
    const orgIds = uuidArray([...new Set(wanted.map((w) => w.orgId))]);
    const [row] = await rows<{
      grants: SpendableGrantRow[] | null;
      thresholds: Array<{ orgId: string; threshold: string | number }> | null;
      now_ms: string | number;
      existing: ExistingUsage[] | null;
    }>(
      this.tx,
      plannedEachRun(sql`
      with wanted as (select * from unnest(${uuidArray(wanted.map((w) => w.orgId))}, ${textArray(wanted.map((w) => w.key))}) as w(org_id, key)),
      expired as (
        delete from ${usageRecords} u using wanted w
        where u.org_id = w.org_id and u.idempotency_key = w.key and u.expires_at <= now()
      )
      select
        (select json_agg(g) from (${spendableGrants(orgIds)}) g) as grants,
        (select json_agg(json_build_object('orgId', org_id, 'threshold', threshold))
          from ${autoRefillSettings}
          where org_id = any(${orgIds}) and enabled and payment_method_id is not null) as thresholds,
        floor(extract(epoch from now()) * 1000) as now_ms,
        (select json_agg(json_build_object(
            'recordId', u.id, 'orgId', u.org_id, 'key', u.idempotency_key, 'requestHash', u.request_hash,
            'ledgerEntryId', u.ledger_entry_id, 'balanceAfter', u.balance_after, 'response', u.response))
          from ${usageRecords} u join wanted w on u.org_id = w.org_id and u.idempotency_key = w.key
          where u.expires_at > now()) as existing`),
    );
    const grants = new Map<string, SpendableGrant[]>();
    for (const grant of row.grants ?? []) {
      grants.set(grant.org_id, [...(grants.get(grant.org_id) ?? []), toSpendable(grant)]);
    }
    return {
      grants,
      refillThresholds: new Map((row.thresholds ?? []).map((t) => [t.orgId, Number(t.threshold)])),
      now: new Date(Number(row.now_ms)),
      existing: (row.existing ?? []).map((e) => ({ ...e, balanceAfter: Number(e.balanceAfter) })),
    };
  }

  /**
   * Every ledger entry, usage record, grant drawn from and balance of one group, in one statement. Entries are
   * inserted in the group's order (their `seq` follows it) with the running `balance_after`
   * computed by the caller under the locks; each balance moves by its org's total. A key
   * recorded meanwhile (an org without a balance row is not locked) fails the whole statement
   * on the primary key.
   */
  async write(now: Date, usages: NewUsage[]): Promise<void> {
    if (usages.length === 0) return;
    const input = JSON.stringify(
      usages.map((u, ord) => ({
        ord,
        org_id: u.orgId,
        record_id: u.recordId,
        entry_id: u.entryId,
        key: u.key,
        request_hash: u.requestHash,
        amount: u.amount,
        debited: u.debited,
        draws: u.draws,
        balance_after: u.balanceAfter,
        description: u.description,
        metadata: u.metadata,
        response: u.response,
      })),
    );
    const at = now.toISOString();
    // The grants drawn from and the orgs debited as arrays, summed here: the planner then updates
    // those rows by their keys (a JSON list, estimated at 100 rows, had every grant and balance scanned).
    const drawn = drawnTotals(usages);
    const debited = debitedTotals(usages);
    await this.tx.execute(
      plannedEachRun(sql`
      with input as (
        select * from jsonb_to_recordset(${input}::jsonb) as x(
          ord int, org_id uuid, record_id uuid, entry_id uuid, key text, request_hash text, amount bigint,
          debited bigint, draws jsonb, balance_after bigint, description text, metadata jsonb, response jsonb)
      ),
      entries as (
        insert into ${creditLedger} (id, org_id, amount, balance_after, transaction_type, description, source_ref, metadata, draws, created_at)
        select entry_id, org_id, -debited, balance_after, 'usage', description, 'usage:' || record_id, metadata, draws, ${at}::timestamptz
        from input where debited > 0 order by ord
      ),
      drawn as (
        update ${creditGrants} g set remaining = g.remaining - d.total
        from unnest(${uuidArray(drawn.map((d) => d.orgId))}, ${uuidArray(drawn.map((d) => d.grantId))},
                    ${bigintArray(drawn.map((d) => d.total))}) as d(org_id, grant_id, total)
        where g.org_id = d.org_id and g.id = d.grant_id
      ),
      records as (
        insert into ${usageRecords} (org_id, idempotency_key, id, request_hash, amount, debited, ledger_entry_id, balance_after, response, created_at, expires_at)
        select org_id, key, record_id, request_hash, amount, debited, case when debited > 0 then entry_id end,
               balance_after, response, ${at}::timestamptz, ${at}::timestamptz + interval '${sql.raw(String(USAGE_RECORD_TTL_DAYS))} days'
        from input
      ),
      totals as (select * from unnest(${uuidArray(debited.map((t) => t.orgId))}, ${bigintArray(debited.map((t) => t.total))})
                   as t(org_id, total))
      update ${creditBalances} b set balance = b.balance - totals.total, updated_at = now()
      from totals where b.org_id = totals.org_id`),
    );
  }
}

/**
 * What a group took from each grant, summed here rather than in the statement: the database
 * then updates each grant once without taking every entry's draws apart.
 */
function drawnTotals(usages: NewUsage[]): Array<{ orgId: string; grantId: string; total: number }> {
  const totals = new Map<string, { orgId: string; grantId: string; total: number }>();
  for (const usage of usages) {
    for (const draw of usage.draws) {
      const total = totals.get(draw.grant_id);
      if (total) total.total += draw.amount;
      else totals.set(draw.grant_id, { orgId: usage.orgId, grantId: draw.grant_id, total: draw.amount });
    }
  }
  return [...totals.values()];
}

/** What the group debited from each org that it debited at all. */
function debitedTotals(usages: NewUsage[]): Array<{ orgId: string; total: number }> {
  const totals = new Map<string, number>();
  for (const usage of usages) {
    if (usage.debited > 0) totals.set(usage.orgId, (totals.get(usage.orgId) ?? 0) + usage.debited);
  }
  return [...totals].map(([orgId, total]) => ({ orgId, total }));
}
