import { parseScopes } from '@credits/auth/admin/directory-admin';
import type { DirectoryAdmin } from '@credits/auth/admin/directory-admin';
import type { AdminAdjustments } from '@credits/billing/ledger/admin-adjustments';
import type { LedgerRepository } from '@credits/billing/ledger/ledger.repository';
import type { NotificationEndpoints } from '@credits/billing/notifications/notification-endpoints.service';
import type { LedgerAuditService } from '@credits/billing/reconciliation/ledger-audit.service';
import type { ReconciliationService } from '@credits/billing/reconciliation/reconciliation.service';
import type { ApiKeyScope, Db } from '@credits/database';
import type { ParsedArgs } from './arguments';
import type { CommandOutput } from './command-output';

/** A command that could not be carried out; the CLI prints the message and exits 1. */
export class CliFailure extends Error {}

/** What the commands work with, from the CLI's Nest application context. */
export interface CliServices {
  db: Db;
  directory: DirectoryAdmin;
  /** Balances and ledger entries, read. */
  entries: LedgerRepository;
  /** Needs `billing: true` on the command (it brings the job queue and the Stripe client). */
  billing: () => BillingServices;
}

export interface BillingServices {
  adjustments: AdminAdjustments;
  notifications: NotificationEndpoints;
  reconciliation: ReconciliationService;
  audit: LedgerAuditService;
}

export interface Command {
  /** The arguments as the usage shows them, after the command's name. */
  args: string;
  /** The usage's description; more lines are indented under it. */
  help: string[];
  /** How many positional arguments: exactly, or `[min, max]`. */
  positional: number | readonly [number, number];
  flags?: string[];
  /** Options without a value (`--dry-run`). */
  switches?: string[];
  /** It uses the ledger, notifications or Stripe: the context loads billing (slower to start). */
  billing?: true;
  /** Checks the arguments before anything opens: a mistake costs no database connection. */
  check?: (args: ParsedArgs) => void;
  run: (services: CliServices, args: ParsedArgs) => Promise<CommandOutput>;
}

/** Text columns: a missing value (never used, no expiry) reads `-`. */
export const cell = (value: Date | string | number | null | undefined): string =>
  value === null || value === undefined ? '-' : value instanceof Date ? value.toISOString() : String(value);

/** `--scope a,b --scope c` -> [a, b, c] checked; an unknown one fails the command (exit 1). */
export function scopesOf({ lists }: ParsedArgs): ApiKeyScope[] | undefined {
  if (lists.scope === undefined) return undefined;
  try {
    return parseScopes(lists.scope);
  } catch (error) {
    throw new CliFailure((error as Error).message);
  }
}

/** `--org a,b --org c` -> [a, b, c]. */
export const orgsOf = ({ lists }: ParsedArgs): string[] =>
  (lists.org ?? []).flatMap((value) => value.split(',')).map((slug) => slug.trim());

/** A key's scopes in a listing: its own list, or `role` when it holds what its role allows. */
export const scopeCell = (scopes: readonly string[] | null): string => (scopes === null ? 'role' : scopes.join(','));
