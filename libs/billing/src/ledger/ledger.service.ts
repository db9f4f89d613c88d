import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { type AppConfig, InjectConfig } from '@credits/config';
import type { DbTransaction, GrantDraw, TransactionType } from '@credits/database';
import type { JobSend } from '@credits/jobs';
import { AFTER_DEBIT, type AfterDebit } from '../auto-refill/after-debit';
import { GrantBook } from '../grants/drawdown';
import { GrantSettlement } from '../grants/grant-settlement';
import { GrantsRepository } from '../grants/grants.repository';
import type { SubscribedTypes } from '../notifications/notification-events';
import { NotificationOutbox } from '../notifications/notification-outbox';
import { LedgerEntry, LedgerRepository, LedgerWriter, NewGrant, WrittenEntry } from './ledger.repository';
import { InsufficientBalanceError } from './insufficient-balance.error';

export interface LedgerEntryInput {
  orgId: string;
  /** A credit's entry id, when `jobs` name it. */
  entryId?: string;
  /**
   * Jobs a credit causes (say, reading its receipt): written with its events' job, before it,
   * in one statement, and withdrawn if it writes nothing, so they exist only if it applied.
   */
  jobs?: JobSend[];
  amount: number;
  transactionType: TransactionType;
  description: string;
  /** Unique per cause; applying the same source twice is a no-op. */
  sourceRef: string;
  checkoutSessionId?: string | null;
  /** The Stripe charge's receipt, on purchase and auto-refill entries. */
  receiptUrl?: string | null;
  /** A credit's grant terms (default: a paid grant of its source, priority 50, from now). */
  grant?: Partial<NewGrant>;
  /** A debit's draws, already decided (a capture spends its hold's); default: drawdown order. */
  draws?: GrantDraw[];
  /** A debit draws from the grant this source made first (a refund, from its purchase's grant). */
  drawFirstFrom?: string;
  /**
   * A credit's: the notification event types some endpoint takes, read in this transaction in
   * a way that orders it against an endpoint's registration (`StripeEventWriter`); with none of
   * the credit's types among them, no delivery job is written. Undefined: one is, as always.
   */
  subscribed?: SubscribedTypes;
}

export interface AppliedEntry {
  applied: boolean;
  balance: number;
  entryId?: string;
}

/**
 * The only writer of credits. Each entry and the balance move together in the caller's
 * transaction; `source_ref` is unique so a cause applies at most once. Every credit makes a
 * grant in the statement that writes its entry; every debit draws from grants in drawdown
 * order (DESIGN §1.4). Invariants: balance = Σ ledger = Σ grants' remaining, never below zero
 * (also constraints).
 *
 * The org's balance row is the lock that orders concurrent entries for one org, so it is
 * held as briefly as possible: a credit takes it in the one statement that adds to the
 * balance and writes the entry, and keeps it only until the caller commits.
 */
@Injectable()
export class LedgerService {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly grants: GrantsRepository,
    private readonly settlement: GrantSettlement,
    private readonly outbox: NotificationOutbox,
    @InjectConfig() private readonly config: AppConfig,
    /** Told of every spending debit (auto-refill starts here); absent where nothing listens. */
    @Optional() @Inject(AFTER_DEBIT) private readonly afterDebit?: AfterDebit,
  ) {}

  async apply(tx: DbTransaction, input: LedgerEntryInput): Promise<AppliedEntry> {
    // Callers that can race on one source already hold a lock that orders them (the checkout
    // session's row for purchases and refunds); the unique constraint on source_ref is the
    // backstop. A source already applied leaves the balance and the ledger untouched.
    const { orgId, entryId, jobs, grant: terms, draws: decided, drawFirstFrom, subscribed, ...entry } = input;
    const ledger = this.ledger.in(tx);
    if (input.amount >= 0) {
      // A credit checks its source, adds to the balance, writes its entry, makes its grant and
      // writes the events it causes in one statement, so the org's balance row stays locked
      // from that statement to the commit, and no longer: the events' delivery job and the
      // credit's other jobs are written first, and withdrawn if the credit writes nothing.
      // Only when an expiry is due does it settle the org first and try again.
      const grant = this.grantOf(input, terms);
      const id = entryId ?? randomUUID();
      const due = await this.outbox.beforeCredit(tx, { ...entry, entryId: id }, jobs, subscribed);
      let written = await ledger.credit(orgId, { ...entry, id }, grant, due.events);
      if (!written && !(await ledger.isApplied(input.sourceRef))) {
        await this.lockBalance(tx, orgId);
        written = await ledger.credit(orgId, { ...entry, id }, grant, due.events);
      }
      if (!written) await due.withdraw();
      return this.applied(ledger, orgId, written);
    }
    if (entryId !== undefined || jobs?.length || subscribed)
      throw new Error('LedgerService.apply: entryId, jobs and subscribed are for credits');
    // A debit checks its source before the balance: a debit already applied is a no-op even
    // when what is left could not cover it again. Then it draws from grants under the lock.
    if (await ledger.isApplied(input.sourceRef)) return { applied: false, balance: await ledger.balance(orgId) };
    const balance = await this.lockBalance(tx, orgId);
    const book = new GrantBook(await this.grants.in(tx).spendable(orgId));
    // An operator's adjustment and a refund spend what is available: never what a hold
    // reserved, nor a grant not in effect. A capture spends its own hold's draws.
    const first = drawFirstFrom ? await this.grants.in(tx).idBySource(orgId, drawFirstFrom) : undefined;
    const draws = decided ?? book.draw(-input.amount, first);
    if (!draws) throw new InsufficientBalanceError(balance, input.amount, book.available);
    const written = await ledger.debit(orgId, { ...entry, draws });
    // The events this entry causes (they depend on the balance it leaves), in its transaction:
    // none for an entry rolled back.
    if (written) {
      await this.outbox.afterEntry(tx, orgId, { ...written, entryId: written.id, ...entry });
      // Only spending starts a refill (a capture here; usage debits and holds tell the hook
      // themselves): never a refund, whose money went back to the card a moment ago, nor an
      // operator's correction.
      if (this.afterDebit && input.transactionType === 'usage') {
        await this.afterDebit.afterDebit(tx, orgId, book.available);
      }
    }
    return this.applied(ledger, orgId, written);
  }

  private grantOf(input: LedgerEntryInput, terms: Partial<NewGrant> | undefined): NewGrant {
    const bought = input.transactionType === 'purchase' || input.transactionType === 'auto_refill';
    const lifetime = this.config.credits.purchasedExpireAfterSeconds;
    return {
      category: terms?.category ?? 'paid',
      source: terms?.source ?? (bought ? (input.transactionType as 'purchase' | 'auto_refill') : 'admin'),
      priority: terms?.priority ?? 50,
      effectiveAt: terms?.effectiveAt ?? null,
      expiry:
        terms?.expiry !== undefined ? terms.expiry : bought && lifetime !== null ? { afterSeconds: lifetime } : null,
      description: terms?.description ?? null,
      metadata: terms?.metadata ?? null,
    };
  }

  private async applied(ledger: LedgerWriter, orgId: string, written: WrittenEntry | undefined): Promise<AppliedEntry> {
    if (!written) return { applied: false, balance: await ledger.balance(orgId) };
    return { applied: true, balance: written.balanceAfter, entryId: written.id };
  }

  /** One of the org's entries, read in the caller's transaction (it may have just written it). */
  entry(tx: DbTransaction, orgId: string, id: string): Promise<LedgerEntry | undefined> {
    return this.ledger.in(tx).entry(orgId, id);
  }

  /**
   * The org's balance, its row locked for the rest of the transaction, after writing off
   * whatever of its grants is due (so the caller's entries come after the expiries).
   */
  async lockBalance(tx: DbTransaction, orgId: string): Promise<number> {
    const ledger = this.ledger.in(tx);
    const locked = await ledger.lockBalance(orgId);
    if (!locked.settleDue) return locked.balance;
    await this.settlement.settle(tx, orgId);
    return ledger.balance(orgId);
  }

  /** The org's spendable grants, read under its balance lock (`lockBalance` first). */
  async spendable(tx: DbTransaction, orgId: string): Promise<GrantBook> {
    return new GrantBook(await this.grants.in(tx).spendable(orgId));
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
