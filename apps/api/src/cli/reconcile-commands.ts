import { Global, Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  FulfilmentModule,
  LedgerAuditService,
  type LedgerAudit,
  type ReconcileReport,
  ReconciliationService,
} from '@credits/billing';
import { type AppConfig, ConfigModule } from '@credits/config';
import { DATABASE_HANDLE, DB, type DatabaseHandle } from '@credits/database';
import { JobsModule } from '@credits/jobs';
import { UsageError } from './arguments';

/** The CLI's own database handle, for the fulfilment services (one PGlite data dir, one opener). */
@Global()
@Module({})
class CliDatabaseModule {
  static forRoot(handle: DatabaseHandle): DynamicModule {
    return {
      module: CliDatabaseModule,
      providers: [
        { provide: DATABASE_HANDLE, useValue: handle },
        { provide: DB, useValue: handle.db },
      ],
      exports: [DB, DATABASE_HANDLE],
    };
  }
}

/** Runs `fn` with the fulfilment services (and the Stripe gateway), on the CLI's database. */
export async function withFulfilment<T>(
  config: AppConfig,
  handle: DatabaseHandle,
  fn: (services: { reconciliation: ReconciliationService; audit: LedgerAuditService }) => Promise<T>,
): Promise<T> {
  // The queue sends (a grant's notifications) and runs nothing: the server's workers deliver.
  @Module({
    imports: [
      ConfigModule.forRoot(config),
      CliDatabaseModule.forRoot(handle),
      JobsModule.forRoot({ work: false }),
      FulfilmentModule,
    ],
  })
  class ReconcileCliModule {}
  let app: INestApplicationContext | undefined;
  try {
    app = await NestFactory.createApplicationContext(ReconcileCliModule, { logger: ['error'], abortOnError: false });
    return await fn({ reconciliation: app.get(ReconciliationService), audit: app.get(LedgerAuditService) });
  } finally {
    await app?.close();
  }
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since 72h` (also `90m`, `3d`): how far back reconciliation looks. */
export function parseSince(text: string | undefined, now = Date.now()): Date {
  if (text === undefined) return new Date(now - 72 * UNIT_MS.h);
  const match = /^(\d{1,6})([mhd])$/.exec(text);
  if (!match || Number(match[1]) === 0) throw new UsageError(`--since must look like 72h, 90m or 3d (got "${text}")`);
  return new Date(now - Number(match[1]) * UNIT_MS[match[2]]);
}

/** What a command printed: `lines` on stdout, `note` on stderr, `json` instead of both with `--json`. */
export interface ReportOutput {
  lines: string[];
  note: string;
  json: unknown;
}

export function reconcileOutput(report: ReconcileReport, since: Date, dryRun: boolean): ReportOutput {
  const verb = dryRun ? 'would grant' : 'granted';
  return {
    lines: [
      ...report.granted.map((g) => `${verb}\t${g.sessionId}\t${g.orgId}\t${g.credits}`),
      ...report.expired.map((id) => `${dryRun ? 'would expire' : 'expired'}\t${id}`),
      ...report.failed.map((f) => `failed\t${f.sessionId}\t${f.reason}`),
    ],
    note:
      `${report.listed} Checkout session(s) at Stripe since ${since.toISOString()}: ` +
      `${verb} ${report.granted.length}, ${dryRun ? 'would expire' : 'expired'} ${report.expired.length}` +
      (report.failed.length > 0 ? `, ${report.failed.length} cannot be granted (see above)` : '') +
      (dryRun ? '; nothing written (--dry-run)' : ''),
    json: {
      since: since.toISOString(),
      dry_run: dryRun,
      listed: report.listed,
      granted: report.granted.map((g) => ({ session_id: g.sessionId, org_id: g.orgId, credits: g.credits })),
      expired: report.expired,
      failed: report.failed.map((f) => ({ session_id: f.sessionId, reason: f.reason })),
    },
  };
}

export function auditOutput(audit: LedgerAudit): ReportOutput {
  return {
    lines: [
      ...audit.balances.map((b) => `balance\t${b.slug}\tbalance ${b.balance}\tledger sum ${b.ledgerSum}`),
      ...audit.purchases.map(
        (p) => `purchase\t${p.slug}\t${p.sourceRef}\t${p.amount}\t${p.checkoutSessionId ?? '-'}\t${p.problem}`,
      ),
    ],
    note: audit.clean
      ? 'no drift: every balance is the sum of its ledger, every purchase matches a paid session'
      : `drift: ${audit.balances.length} balance(s), ${audit.purchases.length} purchase entr(ies)`,
    json: {
      clean: audit.clean,
      balances: audit.balances.map((b) => ({
        org_id: b.orgId,
        slug: b.slug,
        balance: b.balance,
        ledger_sum: b.ledgerSum,
      })),
      purchases: audit.purchases.map((p) => ({
        entry_id: p.entryId,
        org_id: p.orgId,
        slug: p.slug,
        source_ref: p.sourceRef,
        amount: p.amount,
        checkout_session_id: p.checkoutSessionId,
        problem: p.problem,
      })),
    },
  };
}
