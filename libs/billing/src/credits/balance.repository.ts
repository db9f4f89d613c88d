import { Injectable } from '@nestjs/common';
import { eq, sql } from 'drizzle-orm';
import { autoRefillSettings, creditBalances, creditHolds, Db, InjectDb, organizations } from '@credits/database';

/** What `GET …/credits` shows of an org, read in one statement. */
export interface BalanceSummary {
  balance: number;
  /** Σ active holds not yet past their `expires_at`, swept or not. */
  held: number;
  autoRefillEnabled: boolean;
}

/**
 * The balance as an org reads it. The hottest read of the API, so it is one statement, built
 * once and prepared on the server (no SQL built or parsed per request).
 */
@Injectable()
export class BalanceRepository {
  private readonly summary;

  constructor(@InjectDb() db: Db) {
    // Each subquery names the org itself: Drizzle writes a single-table select's columns
    // unqualified, so a correlated `org_id = id` would read the inner table's own id.
    const orgId = sql`${sql.placeholder('orgId')}::uuid`;
    this.summary = db
      .select({
        balance: sql<string>`coalesce((select ${creditBalances.balance} from ${creditBalances} where ${creditBalances.orgId} = ${orgId}), 0)`,
        held: sql<string>`(select coalesce(sum(${creditHolds.amount}), 0) from ${creditHolds}
          where ${creditHolds.orgId} = ${orgId} and ${creditHolds.status} = 'active' and ${creditHolds.expiresAt} > now())`,
        autoRefillEnabled: sql<boolean>`coalesce((select ${autoRefillSettings.enabled} from ${autoRefillSettings} where ${autoRefillSettings.orgId} = ${orgId}), false)`,
      })
      .from(organizations)
      .where(eq(organizations.id, orgId))
      .prepare('balance_summary');
  }

  async summaryOf(orgId: string): Promise<BalanceSummary> {
    const [row] = await this.summary.execute({ orgId });
    return {
      balance: Number(row?.balance ?? 0),
      held: Number(row?.held ?? 0),
      autoRefillEnabled: row?.autoRefillEnabled ?? false,
    };
  }
}
