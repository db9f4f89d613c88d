import { Inject, Injectable, Optional } from '@nestjs/common';
import type { DbTransaction, TransactionType } from '@credits/database';
import { AFTER_DEBIT, type AfterDebit } from '../auto-refill/after-debit';
import { NotificationOutbox } from '../notifications/notification-outbox';
import { LedgerEntry, LedgerRepository, LedgerWriter, WrittenEntry } from './ledger.repository';

export interface LedgerEntryInput {
  orgId: string;
  amount: number;
  transactionType: TransactionType;
  description: string;
  /** Unique per cause; applying the same source twice is a no-op. */
  sourceRef: string;
  checkoutSessionId?: string | null;
  /** The Stripe charge's receipt, on purchase and auto-refill entries. */
  receiptUrl?: string | null;
}

export interface AppliedEntry {
  applied: boolean;
  balance: number;
  entryId?: string;
}

export class InsufficientBalanceError extends Error {
  constructor(
    readonly balance: number,
    readonly amount: number,
    /** Credits active holds reserve, which the debit could not take. */
    readonly held = 0,
  ) {
    super(`balance ${balance} (${held} held) cannot cover ${-amount}`);
  }
}

/**
 * The only writer of credits. Each entry and the balance move together in the caller's
 * transaction; `source_ref` is unique so a cause applies at most once.
 * Invariant: balance = sum(ledger amounts) and never below zero (also a constraint).
 *
 * The org's balance row is the lock that orders concurrent entries for one org, so it is
 * held as briefly as possible: a credit takes it in the one statement that adds to the
 * balance and writes the entry, and keeps it only until the caller commits.
 */
@Injectable()
export class LedgerService {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly outbox: NotificationOutbox,
    /** Told of every spending debit (auto-refill starts here); absent where nothing listens. */
    @Optional() @Inject(AFTER_DEBIT) private readonly afterDebit?: AfterDebit,
  ) {}

  async apply(tx: DbTransaction, input: LedgerEntryInput): Promise<AppliedEntry> {
    // Callers that can race on one source already hold a lock that orders them (the checkout
    // session's row for purchases and refunds); the unique constraint on source_ref is the
    // backstop. A source already applied leaves the balance and the ledger untouched.
    const { orgId, ...entry } = input;
    const ledger = this.ledger.in(tx);
    if (input.amount >= 0) {
      // A credit checks its source, adds to the balance and writes its entry in one statement,
      // so the org's balance row stays locked from that statement to the commit, and no longer.
      // The events it causes (with their job) follow in the same transaction: none for an
      // entry not written, nor for one rolled back.
      const written = await ledger.credit(orgId, entry);
      if (written) await this.outbox.afterEntry(tx, orgId, { ...written, entryId: written.id, ...entry });
      return this.applied(ledger, orgId, written);
    }
    // A debit checks its source before the balance: a debit already applied is a no-op even
    // when what is left could not cover it again. Then it checks the balance under its lock.
    if (await ledger.isApplied(input.sourceRef)) return { applied: false, balance: await ledger.balance(orgId) };
    const balance = await ledger.lockBalance(orgId);
    // An operator's adjustment spends what is available, like a debit: it may not take what a
    // hold reserved. A refund takes back what was paid whatever is held (its arithmetic
    // forgives what was spent); a capture spends its own hold.
    const held = input.transactionType === 'admin_adjustment' ? await ledger.heldCredits(orgId) : 0;
    if (balance - held + input.amount < 0) throw new InsufficientBalanceError(balance, input.amount, held);
    const written = await ledger.debit(orgId, entry);
    // The events this entry causes (they depend on the balance it leaves), in its transaction:
    // none for an entry rolled back.
    if (written) {
      await this.outbox.afterEntry(tx, orgId, { ...written, entryId: written.id, ...entry });
      // Only spending starts a refill (a capture here; usage debits and holds tell the hook
      // themselves): never a refund, whose money went back to the card a moment ago, nor an
      // operator's correction.
      if (this.afterDebit && input.transactionType === 'usage') {
        const available = written.balanceAfter - (await ledger.heldCredits(orgId, input.sourceRef));
        await this.afterDebit.afterDebit(tx, orgId, available);
      }
    }
    return this.applied(ledger, orgId, written);
  }

  private async applied(ledger: LedgerWriter, orgId: string, written: WrittenEntry | undefined): Promise<AppliedEntry> {
    if (!written) return { applied: false, balance: await ledger.balance(orgId) };
    return { applied: true, balance: written.balanceAfter, entryId: written.id };
  }

  /** One of the org's entries, read in the caller's transaction (it may have just written it). */
  entry(tx: DbTransaction, orgId: string, id: string): Promise<LedgerEntry | undefined> {
    return this.ledger.in(tx).entry(orgId, id);
  }

  /** The org's balance, its row locked for the rest of the transaction. */
  lockBalance(tx: DbTransaction, orgId: string): Promise<number> {
    return this.ledger.in(tx).lockBalance(orgId);
  }

  balance(orgId: string): Promise<number> {
    return this.ledger.balance(orgId);
  }

  /** Newest first; `beforeSeq` continues after the last entry of the previous page. */
  entries(
    orgId: string,
    options: { limit: number; beforeSeq?: number; types?: TransactionType[] },
  ): Promise<LedgerEntry[]> {
    return this.ledger.entries(orgId, options);
  }
}
