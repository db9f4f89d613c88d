import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { isUniqueViolation } from '@credits/auth';
import { type AppConfig, InjectConfig } from '@credits/config';
import { Db, DbTransaction, InjectDb } from '@credits/database';
import { BalanceWatch } from '../ledger/balance-watch';
import { type DueEvent, eventsOf } from '../notifications/notification-events';
import { NotificationOutbox } from '../notifications/notification-outbox';
import type { RecordUsageResponse } from './usage.dto';
import { type ExistingUsage, type NewUsage, UsageRepository } from './usage.repository';

/** One debit as the group commit takes it, single or a batch item. */
export interface DebitRequest {
  key: string;
  requestHash: string;
  amount: number;
  description: string | undefined;
  metadata: Record<string, string> | undefined;
  allowPartial: boolean;
}

/** What became of one debit, known only once its transaction committed. */
export type DebitOutcome =
  | { kind: 'applied'; response: RecordUsageResponse; ledgerEntryId: string | null; balanceAfter: number }
  /** The key was recorded before with the same body: its first answer, nothing debited again. */
  | { kind: 'duplicate'; response: unknown; ledgerEntryId: string | null; balanceAfter: number }
  | { kind: 'conflict' }
  /** Nothing written (and nothing recorded: a retry after a top-up may succeed). */
  | { kind: 'insufficient'; available: number };

interface Waiter {
  request: DebitRequest;
  resolve(outcome: DebitOutcome): void;
  reject(error: unknown): void;
}

/** Items per transaction: bounds the write statement's size and one group's latency. */
const MAX_GROUP_ITEMS = 1000;
const DEFAULT_DESCRIPTION = 'Usage';

/**
 * Group commit of one org's usage debits, within this process.
 *
 * An org's debits serialize on its balance row, and each commit waits for a WAL flush, so one
 * transaction per debit caps an org at a few hundred debits a second. Here debits of the same
 * org that arrive while its previous transaction runs wait in a queue and are applied together
 * in the next one: four statements whatever the group's size (lock the balance row; read
 * Σ active holds and the keys already recorded; write every entry, record and the balance;
 * commit) plus two when the group causes notifications. Each waiter is answered after the
 * commit, so a 2xx is durable. No timer: a lone debit goes at once, and the queue grows only
 * while the database is busy, which is exactly when grouping pays.
 *
 * If a group's transaction fails (say another instance recorded one of its keys meanwhile:
 * the primary key refuses the write), its items are applied again one by one, so one bad item
 * does not fail the others; a key another instance took first is then read back as a
 * duplicate or a conflict.
 */
@Injectable()
export class DebitGroupCommit {
  private readonly logger = new Logger(DebitGroupCommit.name);
  private readonly queues = new Map<string, Waiter[]>();
  private readonly draining = new Set<string>();

  constructor(
    @InjectDb() private readonly db: Db,
    private readonly usage: UsageRepository,
    private readonly outbox: NotificationOutbox,
    private readonly watch: BalanceWatch,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** Applies the debits in order (after any of the org's debits already waiting); one outcome each. */
  submit(orgId: string, requests: DebitRequest[]): Promise<DebitOutcome[]> {
    let queue = this.queues.get(orgId);
    if (!queue) this.queues.set(orgId, (queue = []));
    const outcomes = requests.map(
      (request) => new Promise<DebitOutcome>((resolve, reject) => queue.push({ request, resolve, reject })),
    );
    if (!this.draining.has(orgId)) void this.drain(orgId);
    return Promise.all(outcomes);
  }

  private async drain(orgId: string): Promise<void> {
    this.draining.add(orgId);
    try {
      for (;;) {
        const queue = this.queues.get(orgId);
        if (!queue?.length) {
          this.queues.delete(orgId);
          return;
        }
        await this.commitGroup(orgId, queue.splice(0, MAX_GROUP_ITEMS));
      }
    } finally {
      this.draining.delete(orgId);
    }
  }

  private async commitGroup(orgId: string, group: Waiter[]): Promise<void> {
    try {
      const outcomes = await this.db.transaction((tx) =>
        this.apply(
          tx,
          orgId,
          group.map((w) => w.request),
        ),
      );
      group.forEach((waiter, i) => waiter.resolve(outcomes[i]));
      return;
    } catch (error) {
      if (group.length > 1) {
        this.logger.warn({ msg: 'a group of debits failed; applying its items one by one', orgId, err: error });
      } else if (!isUniqueViolation(error)) {
        group[0].reject(error);
        return;
      }
    }
    for (const waiter of group) await this.commitAlone(orgId, waiter);
  }

  /** One item in its own transaction; a key recorded meanwhile elsewhere is read back on the second try. */
  private async commitAlone(orgId: string, waiter: Waiter): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const [outcome] = await this.db.transaction((tx) => this.apply(tx, orgId, [waiter.request]));
        waiter.resolve(outcome);
        return;
      } catch (error) {
        if (attempt >= 2 || !isUniqueViolation(error)) {
          waiter.reject(error);
          return;
        }
      }
    }
  }

  /** Decides every item in order under the org's balance lock, then writes them all. */
  private async apply(tx: DbTransaction, orgId: string, requests: DebitRequest[]): Promise<DebitOutcome[]> {
    const writer = this.usage.in(tx);
    let balance = (await writer.lockBalance(orgId)) ?? 0;
    const { held, now, existing } = await writer.snapshot(orgId, [...new Set(requests.map((r) => r.key))]);
    // Keys recorded before, then keys this group records: a key used twice in one group is a
    // duplicate (same body) or a conflict (another body) of its first use, as across requests.
    const recorded = new Map<string, ExistingUsage>(existing.map((e) => [e.key, e]));
    const writes: NewUsage[] = [];
    const events: DueEvent[] = [];
    const threshold = this.config.credits.lowBalanceThreshold;

    const outcomes = requests.map((request): DebitOutcome => {
      const prior = recorded.get(request.key);
      if (prior) {
        if (prior.requestHash !== request.requestHash) return { kind: 'conflict' };
        const { response, ledgerEntryId, balanceAfter } = prior;
        return { kind: 'duplicate', response, ledgerEntryId, balanceAfter };
      }
      const available = balance - held;
      const debited = request.amount <= available ? request.amount : request.allowPartial ? Math.max(0, available) : -1;
      if (debited < 0) return { kind: 'insufficient', available: Math.max(0, available) };

      balance -= debited;
      const entryId = randomUUID();
      const description = request.description ?? DEFAULT_DESCRIPTION;
      const response: RecordUsageResponse = {
        transaction:
          debited > 0
            ? {
                id: entryId,
                amount: -debited,
                balance_after: balance,
                transaction_type: 'usage',
                description,
                created_at: now.toISOString(),
                checkout_session_id: null,
              }
            : null,
        balance,
        available_balance: balance - held,
        debited,
        shortfall: request.amount - debited,
      };
      const ledgerEntryId = debited > 0 ? entryId : null;
      writes.push({
        recordId: randomUUID(),
        entryId,
        key: request.key,
        requestHash: request.requestHash,
        amount: request.amount,
        debited,
        balanceAfter: balance,
        description,
        metadata: request.metadata ?? null,
        response,
      });
      recorded.set(request.key, {
        key: request.key,
        requestHash: request.requestHash,
        ledgerEntryId,
        balanceAfter: balance,
        response,
      });
      if (debited > 0) {
        events.push(
          ...eventsOf({ entryId, amount: -debited, transactionType: 'usage', balanceAfter: balance }, threshold),
        );
      }
      return { kind: 'applied', response, ledgerEntryId, balanceAfter: balance };
    });

    await writer.write(orgId, now, writes);
    // The same events LedgerService.apply's entries cause, for the whole group in one write.
    await this.outbox.emit(tx, orgId, events);
    if (writes.some((w) => w.debited > 0)) await this.watch.afterDebits(tx, orgId, balance - held);
    return outcomes;
  }
}
