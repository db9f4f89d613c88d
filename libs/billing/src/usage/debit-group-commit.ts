import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { type AppConfig, InjectConfig } from '@credits/config';
import { Db, DbTransaction, InjectDb, isUniqueViolation } from '@credits/database';
import { currentDeadline, type RequestDeadline } from '@credits/traffic/deadline';
import { AFTER_DEBIT, type AfterDebit } from '../auto-refill/after-debit';
import { GrantBook } from '../grants/drawdown';
import { GrantSettlement } from '../grants/grant-settlement';
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
  | { kind: 'insufficient'; available: number }
  /**
   * Nothing written: the request's deadline passed before the debit was decided, so its caller
   * was already answered 503 and must not find it applied.
   */
  | { kind: 'expired' }
  /** Nothing written: this item failed on its own in the fallback, with `error`. */
  | { kind: 'failed'; error: unknown };

interface Waiter {
  orgId: string;
  request: DebitRequest;
  /**
   * The usage record's id, the same in every attempt: when a group is run again after its
   * COMMIT's answer was lost, a record with this id is this debit's own, not an earlier request's.
   */
  recordId: string;
  /** The deadline of the request that asked (none for the CLI and jobs). */
  deadline: RequestDeadline | undefined;
  resolve(outcome: DebitOutcome): void;
  reject(error: unknown): void;
}

/** Items per transaction: bounds the write statement's size and one group's latency. */
const MAX_GROUP_ITEMS = 1000;
/**
 * Transactions this process runs at once: the database works on one while the next gathers.
 * Two, not four: each transaction costs this process about the same CPU whatever its size, and
 * over 16 orgs four smaller groups cost ~20% more CPU per debit than two larger ones, for no
 * more debits a second (bench/README.md, "Two debit transactions at once").
 */
const MAX_IN_FLIGHT = 2;
const DEFAULT_DESCRIPTION = 'Usage';

/** `orgId` and `key` in one map key (a usage key is printable ASCII: no space). */
const slot = (orgId: string, key: string) => `${orgId} ${key}`;

/**
 * Group commit of usage debits, within this process.
 *
 * An org's debits serialize on its balance row, and each commit waits for a WAL flush, so one
 * transaction per debit caps an org at a few hundred debits a second. Here an org's debits
 * that arrive while its previous transaction runs wait in its queue and are applied together
 * in the next one: four statements whatever the group's size (lock the balance row; read the
 * spendable grants and the keys already recorded; write every entry, record, grant and
 * balance; commit), sent in two round trips (`run`), plus the events of entries that cause
 * notifications. Each waiter is answered after the commit, so a 2xx is durable. No timer: a
 * lone debit goes at once, and a queue grows only while the database is busy with that org,
 * which is exactly when grouping pays. An org is in one transaction at a time, so its debits
 * are applied in the order they arrived; up to two transactions run at once, each taking its
 * share of the orgs with debits waiting (several orgs per group when many wait; the least
 * recently served first), so an org's debits wait their turn among the orgs waiting, never for
 * another org's backlog to drain.
 * (One transaction per org measured 0.31× the naive floor over 16 orgs, against 0.81× for four
 * fixed lanes: small groups pay a commit each, and this process's CPU for each.)
 *
 * If a group's transaction fails (say another instance recorded one of its keys meanwhile:
 * the primary key refuses the write), its items are applied again one by one, so one bad item
 * does not fail the others; a key another instance took first is then read back as a
 * duplicate or a conflict.
 */
@Injectable()
export class DebitGroupCommit {
  private readonly logger = new Logger(DebitGroupCommit.name);
  /** Each org's debits waiting for a transaction, in arrival order; an org is here while it has some. */
  private readonly queues = new Map<string, Waiter[]>();
  /** Orgs a running transaction holds: an org is in one at a time, so its debits keep their order. */
  private readonly busy = new Set<string>();
  private inFlight = 0;

  constructor(
    @InjectDb() private readonly db: Db,
    private readonly usage: UsageRepository,
    private readonly outbox: NotificationOutbox,
    private readonly settlement: GrantSettlement,
    @InjectConfig() private readonly config: AppConfig,
    @Optional() @Inject(AFTER_DEBIT) private readonly afterDebit?: AfterDebit,
  ) {}

  /** Applies the org's debits in order (after any of its debits already waiting); one outcome each. */
  submit(orgId: string, requests: DebitRequest[]): Promise<DebitOutcome[]> {
    let queue = this.queues.get(orgId);
    if (!queue) this.queues.set(orgId, (queue = []));
    const deadline = currentDeadline();
    const outcomes = requests.map(
      (request) =>
        new Promise<DebitOutcome>((resolve, reject) =>
          queue.push({ orgId, request, recordId: randomUUID(), deadline, resolve, reject }),
        ),
    );
    this.pump();
    return Promise.all(outcomes);
  }

  /**
   * Starts transactions while fewer than MAX_IN_FLIGHT run and orgs not held by one have
   * debits waiting. The waiting orgs are shared out among the free slots (a slot takes about
   * its share of them, whole orgs only, least recently served first), so unrelated orgs
   * commit together or in parallel rather than one after another, and each group still
   * gathers every debit its orgs have waiting (up to MAX_GROUP_ITEMS).
   */
  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT) {
      const ready = [...this.queues.keys()].filter((orgId) => !this.busy.has(orgId));
      if (ready.length === 0) return;
      const share = Math.ceil(ready.length / (MAX_IN_FLIGHT - this.inFlight));
      const group: Waiter[] = [];
      const orgs: string[] = [];
      for (const orgId of ready) {
        if (orgs.length >= share || group.length >= MAX_GROUP_ITEMS) break;
        const queue = this.queues.get(orgId)!;
        group.push(...queue.splice(0, MAX_GROUP_ITEMS - group.length));
        if (queue.length === 0) this.queues.delete(orgId);
        orgs.push(orgId);
        this.busy.add(orgId);
      }
      this.inFlight++;
      void this.commitGroup(group)
        .catch((error: unknown) => {
          // commitGroup answers every waiter itself; should it ever throw, none is left hanging.
          for (const waiter of group) waiter.reject(error);
        })
        .finally(() => {
          this.inFlight--;
          for (const orgId of orgs) {
            this.busy.delete(orgId);
            // An org with debits still waiting goes behind the orgs that waited meanwhile: the
            // waiting orgs are served in turn, so two orgs' backlogs of full groups cannot keep
            // a third org's debit waiting until they are drained.
            const queue = this.queues.get(orgId);
            if (queue) {
              this.queues.delete(orgId);
              this.queues.set(orgId, queue);
            }
          }
          this.pump();
        });
    }
  }

  private async commitGroup(group: Waiter[]): Promise<void> {
    try {
      const outcomes = await this.run(group);
      group.forEach((waiter, i) => waiter.resolve(outcomes[i]));
      return;
    } catch (error) {
      if (group.length > 1) {
        this.logger.warn({ msg: 'a group of debits failed; applying its items one by one', err: error });
      } else if (!isUniqueViolation(error)) {
        group[0].reject(error);
        return;
      }
    }
    for (const waiter of group) await this.commitAlone(waiter);
  }

  /**
   * One item in its own transaction; a key recorded meanwhile elsewhere is read back on the
   * second try. An item that still fails is answered `failed`, so the items of its group that
   * were applied are answered as applied, not hidden behind one error.
   */
  private async commitAlone(waiter: Waiter): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const [outcome] = await this.run([waiter]);
        waiter.resolve(outcome);
        return;
      } catch (error) {
        if (attempt >= 2 || !isUniqueViolation(error)) {
          waiter.resolve({ kind: 'failed', error });
          return;
        }
      }
    }
  }

  /**
   * The group in one transaction, in two round trips on PostgreSQL (the pool pipelines, and
   * sends BEGIN with the first statement): BEGIN with the locks and the snapshot; the write
   * with the COMMIT. When nothing else is to be written after it (no notification, no
   * refill), the write is not awaited inside the transaction, so the COMMIT goes out right
   * behind it, and its outcome is awaited here.
   * A write the server refused left the transaction aborted, and a COMMIT there rolls back
   * (PostgreSQL answers ROLLBACK; PGlite throws): nothing of the group is kept, and the write's
   * error, not the COMMIT's, is thrown, so a key recorded meanwhile is still read back. (A
   * write that never reached the server commits only what the snapshot did: it removed records
   * past their 30 days, as any later group would.)
   */
  private async run(group: Waiter[]): Promise<DebitOutcome[]> {
    const sent: { written?: Promise<void> } = {};
    try {
      const outcomes = await this.db.transaction((tx) => this.apply(tx, group, sent));
      await sent.written;
      return outcomes;
    } catch (error) {
      await sent.written;
      throw error;
    }
  }

  /**
   * Decides every item in order under its org's balance lock, then writes them all; the write
   * is left in `sent.written` for `run` to await once the transaction has ended.
   */
  private async apply(tx: DbTransaction, group: Waiter[], sent: { written?: Promise<void> }): Promise<DebitOutcome[]> {
    const writer = this.usage.in(tx);
    const orgIds = [...new Set(group.map((w) => w.orgId))];
    const wanted = [
      ...new Map(group.map((w) => [slot(w.orgId, w.request.key), { orgId: w.orgId, key: w.request.key }])).values(),
    ];
    // Sent together, the locks first: the connection runs the snapshot after the locks are
    // granted, as its own statement, so it still sees everything committed before them (see
    // `snapshot`). Both go through `rows` and reach node-postgres in the order they are called.
    const locking = writer.lockBalances(orgIds);
    const reading = writer.snapshot(wanted);
    const [locked, first] = await Promise.all([locking, reading]);
    let { balances } = locked;
    let snapshot = first;
    if (locked.settleDue.length > 0) {
      // An expiry is written before any later entry of its org: settle those orgs first, under
      // the locks just taken, then read their balances and grants again (rare: at most once
      // per expiry).
      for (const orgId of locked.settleDue) await this.settlement.settle(tx, orgId);
      ({ balances } = await writer.lockBalances(orgIds));
      snapshot = await writer.snapshot(wanted);
    }
    const { grants, refillThresholds, now, existing } = snapshot;
    const books = new Map(orgIds.map((orgId) => [orgId, new GrantBook(grants.get(orgId) ?? [])]));
    // Keys recorded before, then keys this group records: a key used twice in one group is a
    // duplicate (same body) or a conflict (another body) of its first use, as across requests.
    const recorded = new Map<string, ExistingUsage>(existing.map((e) => [slot(e.orgId, e.key), e]));
    const writes: NewUsage[] = [];
    const events = new Map<string, DueEvent[]>();
    const threshold = this.config.credits.lowBalanceThreshold;

    const outcomes = group.map(({ orgId, request, recordId, deadline }): DebitOutcome => {
      // Decided under the lock: a caller answered 503 while its debit waited never finds it
      // applied. (One that passes its deadline from here to COMMIT may; the 503 says to retry
      // with the same key, which answers with what was done.)
      if (deadline?.expired) return { kind: 'expired' };
      const prior = recorded.get(slot(orgId, request.key));
      if (prior) {
        if (prior.requestHash !== request.requestHash) return { kind: 'conflict' };
        const { response, ledgerEntryId, balanceAfter } = prior;
        // Its own record, written by an attempt whose COMMIT answer was lost: a first answer.
        if (prior.recordId === recordId) {
          return { kind: 'applied', response: response as RecordUsageResponse, ledgerEntryId, balanceAfter };
        }
        return { kind: 'duplicate', response, ledgerEntryId, balanceAfter };
      }
      const book = books.get(orgId)!;
      let balance = balances.get(orgId) ?? 0;
      const available = book.available;
      const debited = request.amount <= available ? request.amount : request.allowPartial ? available : -1;
      if (debited < 0) return { kind: 'insufficient', available };
      const draws = debited > 0 ? book.draw(debited)! : [];

      balance -= debited;
      balances.set(orgId, balance);
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
                receipt_url: null,
              }
            : null,
        balance,
        available_balance: book.available,
        debited,
        shortfall: request.amount - debited,
      };
      const ledgerEntryId = debited > 0 ? entryId : null;
      writes.push({
        orgId,
        recordId,
        entryId,
        key: request.key,
        requestHash: request.requestHash,
        amount: request.amount,
        debited,
        draws,
        balanceAfter: balance,
        description,
        metadata: request.metadata ?? null,
        response,
      });
      recorded.set(slot(orgId, request.key), {
        recordId,
        orgId,
        key: request.key,
        requestHash: request.requestHash,
        ledgerEntryId,
        balanceAfter: balance,
        response,
      });
      if (debited > 0) {
        const entry = { entryId, amount: -debited, transactionType: 'usage' as const, balanceAfter: balance };
        events.set(orgId, [...(events.get(orgId) ?? []), ...eventsOf(entry, threshold)]);
      }
      return { kind: 'applied', response, ledgerEntryId, balanceAfter: balance };
    });

    const written = writer.write(now, writes);
    // Its rejection is seen where it is awaited (`run`, or below); this only keeps Node from
    // reporting it as unhandled meanwhile.
    written.catch(() => undefined);
    sent.written = written;

    // The same events LedgerService.apply's entries cause, in one write per org; auto-refill
    // starts when the group leaves an org below its threshold (orgs with auto-refill off, or
    // still above it, cost no round trip: one each made 16 orgs' groups slower than one org's).
    const followUps = orgIds
      .filter((orgId) => writes.some((w) => w.orgId === orgId && w.debited > 0))
      .map((orgId) => {
        const available = books.get(orgId)!.available;
        const threshold = refillThresholds.get(orgId);
        return {
          orgId,
          available,
          due: events.get(orgId) ?? [],
          refill: threshold !== undefined && available < threshold,
        };
      })
      .filter(({ due, refill }) => due.length > 0 || (refill && this.afterDebit));
    if (followUps.length === 0) return outcomes;
    // They must follow a write that succeeded: one that failed before reaching the server
    // leaves the transaction open, and they would commit without it.
    await written;
    for (const { orgId, available, due, refill } of followUps) {
      await this.outbox.emit(tx, orgId, due);
      if (refill) await this.afterDebit?.afterDebit(tx, orgId, available);
    }
    return outcomes;
  }
}
