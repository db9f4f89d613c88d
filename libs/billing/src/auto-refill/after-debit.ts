import type { DbTransaction } from '@credits/database';

/**
 * Told of every spending debit, inside the debit's transaction, with what the org has left to
 * spend (`available_balance`: the balance less its active, unexpired holds) once the debit is
 * written. Spending only: a usage debit or batch item, a hold made or captured. A refund or an
 * operator's negative adjustment never calls it, so never charges the card (a refund would
 * otherwise charge it again right after the money went back). The ledger calls it after each
 * `usage` entry it applies (a capture); a writer that debits in batches (usage's group commit)
 * calls it once per org of the batch, with the org's available balance after the batch.
 * Whatever it writes commits or rolls back with the debit.
 */
export interface AfterDebit {
  afterDebit(tx: DbTransaction, orgId: string, availableBalance: number): Promise<void>;
}

/** The injection token of the `AfterDebit` hook (the auto-refill trigger). */
export const AFTER_DEBIT = Symbol('AFTER_DEBIT');
