// Types only: erased at run time, so the CLI does not load billing unless a command needs it.
import type { LedgerAudit, ReconcileReport } from '@credits/billing';
import { UsageError } from './arguments';
import type { CommandOutput } from './command-output';

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since 72h` (also `90m`, `3d`): how far back reconciliation looks. */
export function parseSince(text: string | undefined, now = Date.now()): Date {
  if (text === undefined) return new Date(now - 72 * UNIT_MS.h);
  const match = /^(\d{1,6})([mhd])$/.exec(text);
  if (!match || Number(match[1]) === 0) throw new UsageError(`--since must look like 72h, 90m or 3d (got "${text}")`);
  return new Date(now - Number(match[1]) * UNIT_MS[match[2]]);
}

export function reconcileOutput(report: ReconcileReport, since: Date, dryRun: boolean): CommandOutput {
  const verb = dryRun ? 'would grant' : 'granted';
  return {
    lines: [
      ...report.granted.map((g) => `${verb}\t${g.sessionId}\t${g.orgId}\t${g.credits}`),
      ...report.expired.map((id) => `${dryRun ? 'would expire' : 'expired'}\t${id}`),
      ...report.failed.map((f) => `failed\t${f.sessionId}\t${f.reason}`),
      ...report.refills.granted.map((id) => `${dryRun ? 'would grant' : 'granted'} auto-refill\t${id}`),
      ...report.refills.failed.map((id) => `${dryRun ? 'would fail' : 'failed'} auto-refill\t${id}`),
      ...report.refills.requeued.map((id) => `${dryRun ? 'would charge again' : 'charging again'} auto-refill\t${id}`),
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
      auto_refills: report.refills,
    },
  };
}

export function auditOutput(audit: LedgerAudit): CommandOutput {
  return {
    lines: [
      ...audit.balances.map((b) => `balance\t${b.slug}\tbalance ${b.balance}\tledger sum ${b.ledgerSum}`),
      ...audit.purchases.map(
        (p) => `purchase\t${p.slug}\t${p.sourceRef}\t${p.amount}\t${p.checkoutSessionId ?? '-'}\t${p.problem}`,
      ),
      ...audit.refills.map(
        (r) => `refill\t${r.slug}\t${r.refillId}\t${r.status}\t${r.paymentIntent ?? '-'}\t${r.problem}`,
      ),
    ],
    note: audit.clean
      ? 'no drift: every balance is the sum of its ledger, every purchase matches a paid session, every refill is settled'
      : `drift: ${audit.balances.length} balance(s), ${audit.purchases.length} purchase entr(ies), ${audit.refills.length} refill(s)`,
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
      refills: audit.refills.map((r) => ({
        refill_id: r.refillId,
        org_id: r.orgId,
        slug: r.slug,
        status: r.status,
        payment_intent: r.paymentIntent,
        created_at: r.createdAt.toISOString(),
        problem: r.problem,
      })),
    },
  };
}
