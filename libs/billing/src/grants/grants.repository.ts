import { Injectable } from '@nestjs/common';
import { sql, SQL } from 'drizzle-orm';
import {
  creditBalances,
  creditGrants,
  creditHolds,
  Db,
  DbTransaction,
  GrantCategory,
  GrantDraw,
  InjectDb,
  rows,
  uuidArray,
} from '@credits/database';
import type { CreatedPosition } from '@credits/pagination';
import type { SpendableGrant } from './drawdown';

export type GrantRow = typeof creditGrants.$inferSelect;

export const GRANT_STATUSES = ['active', 'expired', 'depleted', 'voided'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

/** Where a listing resumes: after the grant created at `micros` (µs since the epoch) with this id. */
export type GrantPosition = CreatedPosition;

/**
 * A grant's status as a reader sees it, at the database's clock: voided, else expired (past
 * `expires_at`, written off or not), else depleted (nothing left), else active (including one
 * not yet in effect).
 */
const grantStatus = sql<GrantStatus>`case
  when ${creditGrants.voidedAt} is not null then 'voided'
  when ${creditGrants.expiresAt} is not null and ${creditGrants.expiresAt} <= now() then 'expired'
  when ${creditGrants.remaining} = 0 then 'depleted'
  else 'active' end`;

/**
 * A hold that keeps its credits now: not captured or released, and before its `expires_at`.
 * (Not `status = 'active'`: the hold sweep may mark a hold expired at its own clock while a
 * settling transaction, whose clock is earlier, still counts it; captures and releases take
 * the org's balance lock, as settling does, so they cannot change under it.)
 */
const keepsCredits = sql`h.captured_at is null and h.released_at is null and h.expires_at > now()`;

/** What holds keep now of each of the org's grants, as settling counts it: rows grant_id, held. */
function keptByGrant(orgId: string): SQL {
  return sql`
    select (d->>'grant_id')::uuid as grant_id, sum((d->>'amount')::bigint) as held
    from ${creditHolds} h cross join jsonb_array_elements(h.draws) d
    where h.org_id = ${orgId}::uuid and ${keepsCredits}
    group by 1`;
}

/**
 * The spendable part of every grant in effect of the orgs in `orgIds` (an SQL uuid[]):
 * not voided, not written off, `effective_at ≤ now() < expires_at`, less what active holds
 * that have not passed their `expires_at` keep of it. Rows: org_id, id, available, priority,
 * expires_ms, category, effective_ms. The hot path of every debit: it reads holds through the
 * partial index of active ones (`status = 'active'`), not `keepsCredits`, which settling uses.
 */
export function spendableGrants(orgIds: SQL): SQL {
  return sql`
    select g.org_id, g.id, g.remaining - coalesce(h.held, 0) as available, g.priority,
           floor(extract(epoch from g.expires_at) * 1000) as expires_ms, g.category,
           floor(extract(epoch from g.effective_at) * 1000) as effective_ms
    from ${creditGrants} g
    left join (
      select (d->>'grant_id')::uuid as grant_id, sum((d->>'amount')::bigint) as held
      from ${creditHolds} ch cross join jsonb_array_elements(ch.draws) d
      where ch.org_id = any(${orgIds}) and ch.status = 'active' and ch.expires_at > now()
      group by 1) h on h.grant_id = g.id
    where g.org_id = any(${orgIds}) and g.remaining > 0 and g.settled_at is null and g.voided_at is null
      and g.effective_at <= now() and (g.expires_at is null or g.expires_at > now())`;
}

export interface SpendableGrantRow {
  org_id: string;
  id: string;
  available: string | number;
  priority: number;
  expires_ms: string | number | null;
  category: GrantCategory;
  effective_ms: string | number;
}

export function toSpendable(row: SpendableGrantRow): SpendableGrant {
  return {
    id: row.id,
    available: Number(row.available),
    priority: Number(row.priority),
    expiresAt: row.expires_ms === null ? null : new Date(Number(row.expires_ms)),
    category: row.category,
    effectiveAt: new Date(Number(row.effective_ms)),
  };
}

/** A grant past its expiry, not yet written off, with what active holds keep of it now. */
export interface DueGrant {
  id: string;
  remaining: number;
  held: number;
}

/** A hold that has ended and kept credits of grants written off meanwhile: what it gives back to them is written off. */
export interface EndedKeepingHold {
  id: string;
  draws: GrantDraw[];
  capturedAmount: number | null;
  /** The grants written off while it kept credits of them. */
  kept: string[];
}

/** A grant written off (expired or voided), with what is left of it. */
export interface SettledGrant {
  id: string;
  remaining: number;
  voided: boolean;
}

/** Credit grants, org id first. Reads outside a transaction; writes in the caller's (`in(tx)`). */
@Injectable()
export class GrantsRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  in(tx: DbTransaction): GrantsWriter {
    return new GrantsWriter(tx);
  }

  /** Newest first; `after` continues after the last grant of the previous page. */
  async list(
    orgId: string,
    options: { limit: number; after?: GrantPosition; statuses?: GrantStatus[] },
  ): Promise<Array<GrantRow & { status: GrantStatus; position: GrantPosition }>> {
    const conditions: SQL[] = [sql`${creditGrants.orgId} = ${orgId}::uuid`];
    if (options.statuses?.length) {
      conditions.push(
        sql`(${grantStatus}) in (${sql.join(
          options.statuses.map((s) => sql`${s}`),
          sql`, `,
        )})`,
      );
    }
    if (options.after) {
      const { micros, id } = options.after;
      conditions.push(
        sql`(${creditGrants.createdAt}, ${creditGrants.id}) < (timestamptz 'epoch' + ${micros}::bigint * interval '1 microsecond', ${id}::uuid)`,
      );
    }
    const found = await this.db
      .select({
        grant: creditGrants,
        status: grantStatus,
        micros: sql<string>`(extract(epoch from ${creditGrants.createdAt}) * 1000000)::bigint::text`,
      })
      .from(creditGrants)
      .where(sql.join(conditions, sql` and `))
      .orderBy(sql`${creditGrants.createdAt} desc, ${creditGrants.id} desc`)
      .limit(options.limit);
    return found.map(({ grant, status, micros }) => ({ ...grant, status, position: { micros, id: grant.id } }));
  }

  /**
   * Grants whose expiry falls within `withinDays` and whose `credits.expiring` was not sent,
   * oldest expiry first, at most `limit`, across orgs (the notice job's sweep).
   */
  async dueNotices(withinDays: number, limit: number): Promise<GrantRow[]> {
    return this.db
      .select()
      .from(creditGrants)
      .where(
        sql`${creditGrants.settledAt} is null and ${creditGrants.voidedAt} is null and ${creditGrants.expiryNoticeAt} is null
          and ${creditGrants.remaining} > 0 and ${creditGrants.expiresAt} > now()
          and ${creditGrants.expiresAt} <= now() + make_interval(days => ${withinDays})`,
      )
      .orderBy(creditGrants.expiresAt)
      .limit(limit);
  }

  /** The org a grant belongs to (an operator names a grant by its id alone). */
  async orgOf(grantId: string): Promise<string | undefined> {
    const [row] = await this.db
      .select({ orgId: creditGrants.orgId })
      .from(creditGrants)
      .where(sql`${creditGrants.id} = ${grantId}::uuid`);
    return row?.orgId;
  }

  /** Orgs with something of their grants due to be written off now, at most `limit` (the expiry sweep). */
  async orgsDue(limit: number): Promise<string[]> {
    const found = await rows<{ org_id: string }>(
      this.db,
      sql`select org_id from ${creditBalances} where next_expiry_at <= now() order by next_expiry_at limit ${limit}`,
    );
    return found.map((row) => row.org_id);
  }
}

/** Grants inside one transaction that holds the org's balance lock. */
export class GrantsWriter {
  constructor(private readonly tx: DbTransaction) {}

  async spendable(orgId: string): Promise<SpendableGrant[]> {
    const found = await rows<SpendableGrantRow>(this.tx, spendableGrants(uuidArray([orgId])));
    return found.map(toSpendable);
  }

  /** The grant, its row locked for the rest of the transaction. */
  async lock(orgId: string, id: string): Promise<GrantRow | undefined> {
    const [row] = await this.tx
      .select()
      .from(creditGrants)
      .where(sql`${creditGrants.orgId} = ${orgId}::uuid and ${creditGrants.id} = ${id}::uuid`)
      .for('update');
    return row;
  }

  /** The id of the grant a credit entry of this source made. */
  async idBySource(orgId: string, sourceRef: string): Promise<string | undefined> {
    const [row] = await this.tx
      .select({ id: creditGrants.id })
      .from(creditGrants)
      .where(sql`${creditGrants.orgId} = ${orgId}::uuid and ${creditGrants.sourceRef} = ${sourceRef}`);
    return row?.id;
  }

  /** Grants past their expiry and not yet written off, soonest first, with what holds keep of each now. */
  async dueToSettle(orgId: string): Promise<DueGrant[]> {
    const found = await rows<{ id: string; remaining: string | number; held: string | number | null }>(
      this.tx,
      sql`select g.id, g.remaining, k.held
          from ${creditGrants} g left join (${keptByGrant(orgId)}) k on k.grant_id = g.id
          where g.org_id = ${orgId}::uuid and g.settled_at is null and g.expires_at <= now()
          order by g.expires_at, g.id`,
    );
    return found.map((row) => ({ id: row.id, remaining: Number(row.remaining), held: Number(row.held ?? 0) }));
  }

  /** Marks grants written off (expired) as of this transaction. */
  async markSettled(orgId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.tx.execute(
      sql`update ${creditGrants} set settled_at = now()
          where org_id = ${orgId}::uuid and id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::uuid)`,
    );
  }

  /** Marks a grant voided and written off as of this transaction. */
  async markVoided(orgId: string, id: string): Promise<void> {
    await this.tx.execute(
      sql`update ${creditGrants} set voided_at = now(), settled_at = now() where org_id = ${orgId}::uuid and id = ${id}::uuid`,
    );
  }

  /** What holds keep of one grant now. */
  async heldOf(orgId: string, grantId: string): Promise<number> {
    const [row] = await rows<{ held: string | number }>(
      this.tx,
      sql`select coalesce(sum(held), 0) as held from (${keptByGrant(orgId)}) k where k.grant_id = ${grantId}::uuid`,
    );
    return Number(row.held);
  }

  /** Notes on each hold that keeps credits of these grants (just written off) that it does. */
  async markKept(orgId: string, grantIds: string[]): Promise<void> {
    if (grantIds.length === 0) return;
    const ids = sql`(select jsonb_array_elements_text(${JSON.stringify(grantIds)}::jsonb))`;
    await this.tx.execute(sql`
      update ${creditHolds} h set kept = h.kept || (
        select coalesce(jsonb_agg(d->>'grant_id'), '[]'::jsonb) from jsonb_array_elements(h.draws) d
        where d->>'grant_id' in ${ids} and not h.kept ? (d->>'grant_id'))
      where h.org_id = ${orgId}::uuid and ${keepsCredits}
        and exists (select 1 from jsonb_array_elements(h.draws) d where d->>'grant_id' in ${ids})`);
  }

  /** Ended holds that kept credits of grants written off, and those grants. */
  async endedKeepingHolds(orgId: string): Promise<{ holds: EndedKeepingHold[]; grants: SettledGrant[] }> {
    const [row] = await rows<{ holds: EndedKeepingHold[] | null; grants: SettledGrant[] | null }>(
      this.tx,
      sql`
      with ended as (
        select h.id, h.draws, h.captured_amount, h.kept from ${creditHolds} h
        where h.org_id = ${orgId}::uuid and h.kept <> '[]'::jsonb and not (${keepsCredits}))
      select
        (select json_agg(json_build_object('id', id, 'draws', draws, 'capturedAmount', captured_amount, 'kept', kept)) from ended) as holds,
        (select json_agg(json_build_object('id', g.id, 'remaining', g.remaining, 'voided', g.voided_at is not null))
          from ${creditGrants} g
          where g.org_id = ${orgId}::uuid and g.id::text in (select jsonb_array_elements_text(kept) from ended)) as grants`,
    );
    return {
      holds: (row.holds ?? []).map((h) => ({
        ...h,
        capturedAmount: h.capturedAmount === null ? null : Number(h.capturedAmount),
      })),
      grants: (row.grants ?? []).map((g) => ({ ...g, remaining: Number(g.remaining) })),
    };
  }

  /** Those holds' given-back credits are written off: nothing of them is left to do. */
  async clearKept(orgId: string, holdIds: string[]): Promise<void> {
    if (holdIds.length === 0) return;
    await this.tx.execute(
      sql`update ${creditHolds} set kept = '[]'::jsonb
          where org_id = ${orgId}::uuid and id in (select jsonb_array_elements_text(${JSON.stringify(holdIds)}::jsonb)::uuid)`,
    );
  }

  /**
   * Recomputes when the org next has something to write off: the soonest expiry of a grant
   * still live, or of an active hold keeping credits of a grant already written off.
   */
  async refreshNextExpiry(orgId: string): Promise<void> {
    await this.tx.execute(sql`
      update ${creditBalances} set next_expiry_at = least(
        (select min(expires_at) from ${creditGrants}
          where org_id = ${orgId}::uuid and settled_at is null and expires_at is not null and remaining > 0),
        (select min(h.expires_at) from ${creditHolds} h
          where h.org_id = ${orgId}::uuid and ${keepsCredits} and h.kept <> '[]'::jsonb))
      where org_id = ${orgId}::uuid`);
  }

  /** Marks `credits.expiring` sent for these grants; answers those this call marked (each once). */
  async markNoticed(orgId: string, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const marked = await rows<{ id: string }>(
      this.tx,
      sql`update ${creditGrants} set expiry_notice_at = now()
          where org_id = ${orgId}::uuid and expiry_notice_at is null
            and id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::uuid)
          returning id`,
    );
    return marked.map((row) => row.id);
  }
}
