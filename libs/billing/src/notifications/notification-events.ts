import type { NotificationEventType, TransactionType } from '@credits/database';

/** An event as the host backend receives it (the body POSTed, signed). */
export interface NotificationPayload {
  id: string;
  type: NotificationEventType;
  /** Unix seconds. */
  created: number;
  org: { id: string; slug: string };
  data: Record<string, unknown>;
}

/** A ledger entry just written, as the outbox judges it. */
export interface WrittenLedgerEntry {
  entryId: string;
  amount: number;
  transactionType: TransactionType;
  balanceAfter: number;
  checkoutSessionId?: string | null;
}

export interface DueEvent {
  type: NotificationEventType;
  data: Record<string, unknown>;
}

/**
 * The events one ledger entry causes. The org's entries are ordered by its balance row's lock,
 * so the balance before an entry is exactly `balance_after - amount`: a crossing below the
 * threshold is `before >= threshold > after`, decided from the entry alone. Staying below
 * writes nothing; going back to the threshold or above re-arms it, and the next crossing fires.
 */
export function eventsOf(entry: WrittenLedgerEntry, lowBalanceThreshold: number): DueEvent[] {
  const before = entry.balanceAfter - entry.amount;
  const after = entry.balanceAfter;
  const reference = {
    transaction_id: entry.entryId,
    balance: after,
    ...(entry.checkoutSessionId ? { checkout_session_id: entry.checkoutSessionId } : {}),
  };
  const events: DueEvent[] = [];
  if (entry.transactionType === 'purchase') {
    events.push({ type: 'credits.purchased', data: { credits: entry.amount, ...reference } });
  }
  if (entry.transactionType === 'refund') {
    events.push({ type: 'credits.refunded', data: { credits: -entry.amount, ...reference } });
  }
  if (before >= lowBalanceThreshold && after < lowBalanceThreshold) {
    events.push({ type: 'credits.low_balance', data: { threshold: lowBalanceThreshold, ...reference } });
  }
  if (before > 0 && after === 0) events.push({ type: 'credits.depleted', data: reference });
  return events;
}
