import { Injectable } from '@nestjs/common';
import { eq, sql } from 'drizzle-orm';
import { type AppConfig, InjectConfig } from '@credits/config';
import {
  autoRefillSettings,
  creditBalances,
  creditGrants,
  creditHolds,
  Db,
  InjectDb,
  organizations,
} from '@credits/database';
import { spendableGrants } from '../grants/grants.repository';

/** What `GET …/credits` shows of an org, read in one statement. */
export interface BalanceSummary {
  balance: number;
  /** Σ active holds not yet past their `expires_at`, swept or not. */
  held: number;
  /** Σ spendable of the grants in effect (what holds keep of them excluded). */
  available: number;
  /** The soonest expiry within the notice period, and what of the grants expiring then is left. */
  expiring: { amount: number; expiresAt: Date } | null;
  autoRefillEnabled: boolean;
}

/**
 * The one statement `GET …/credits` reads: the balance, what active holds keep, the grants in
 * effect, the soonest expiry in the notice period and whether auto-refill is on, for the
 * placeholder `orgId`. (The bench's same-work floor sends this very text through raw `pg`.)
 */
export function balanceSummaryQuery(db: Db, config: AppConfig) {
  // Each subquery names the org itself: Drizzle writes a single-table select's columns
  // unqualified, so a correlated `org_id = id` would read the inner table's own id.
  const orgId = sql`${sql.placeholder('orgId')}::uuid`;
  return db
    .select({
      balance: sql<string>`coalesce((select ${creditBalances.balance} from ${creditBalances} where ${creditBalances.orgId} = ${orgId}), 0)`,
      held: sql<string>`(select coalesce(sum(${creditHolds.amount}), 0) from ${creditHolds}
        where ${creditHolds.orgId} = ${orgId} and ${creditHolds.status} = 'active' and ${creditHolds.expiresAt} > now())`,
      available: sql<string>`(select coalesce(sum(s.available), 0) from (${spendableGrants(sql`array[${orgId}]`)}) s)`,
      // The soonest expiry in the notice period (a grant not yet in effect expires too).
      expiring: sql<{ amount: number | string; expires_ms: number | string } | null>`(
        select json_build_object('amount', sum(${creditGrants.remaining}), 'expires_ms', floor(extract(epoch from ${creditGrants.expiresAt}) * 1000))
        from ${creditGrants}
        where ${creditGrants.orgId} = ${orgId} and ${creditGrants.settledAt} is null and ${creditGrants.voidedAt} is null
          and ${creditGrants.remaining} > 0 and ${creditGrants.expiresAt} > now()
          and ${creditGrants.expiresAt} <= now() + make_interval(days => ${config.credits.expiryNoticeDays})
        group by ${creditGrants.expiresAt} order by ${creditGrants.expiresAt} limit 1)`,
      autoRefillEnabled: sql<boolean>`coalesce((select ${autoRefillSettings.enabled} from ${autoRefillSettings} where ${autoRefillSettings.orgId} = ${orgId}), false)`,
    })
    .from(organizations)
    .where(eq(organizations.id, orgId));
}

/**
 * The balance as an org reads it. The hottest read of the API, so it is one statement, built
 * once and prepared on the server (no SQL built or parsed per request).
 */
@Injectable()
export class BalanceRepository {
  private readonly summary;

  constructor(@InjectDb() db: Db, @InjectConfig() config: AppConfig) {
    this.summary = balanceSummaryQuery(db, config).prepare('balance_summary');
  }

  async summaryOf(orgId: string): Promise<BalanceSummary> {
    const [row] = await this.summary.execute({ orgId });
    return {
      balance: Number(row?.balance ?? 0),
      held: Number(row?.held ?? 0),
      available: Number(row?.available ?? 0),
      expiring: row?.expiring
        ? { amount: Number(row.expiring.amount), expiresAt: new Date(Number(row.expiring.expires_ms)) }
        : null,
      autoRefillEnabled: row?.autoRefillEnabled ?? false,
    };
  }
}
