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
 * The event types some active endpoint takes, as a transaction read them in order with every
 * endpoint's registration (`StripeEventWriter.recordProcessedLocking`): a credit none of whose
 * events is among them writes no delivery job (`NotificationOutbox.beforeCredit`).
 */
export type SubscribedTypes = ReadonlySet<NotificationEventType>;

/** An event with its id, as it is written (`notification_events`). */
export type NewNotificationEvent = DueEvent & { id: string };

/**
 * The events one ledger entry causes. The org's entries are ordered by its balance row's lock,
 * so the balance before an entry is exactly `balance_after - amount`: a crossing below the
 * threshold is `before >= threshold > after`, decided from the entry alone. Staying below
 * writes nothing; going back to the threshold or above re-arms it, and the next crossing fires.
 */
export function eventsOf(entry: WrittenLedgerEntry, lowBalanceThreshold: number): DueEvent[] {
  const before = entry.balanceAfter - entry.amount;
  const after = entry.balanceAfter;
  const events: DueEvent[] = sourceEventsOf(entry).map(({ type, data }) => ({
    type,
    data: { ...data, balance: after },
  }));
  const reference: Record<string, unknown> = { ...referenceOf(entry), balance: after };
  if (before >= lowBalanceThreshold && after < lowBalanceThreshold) {
    events.push({ type: 'credits.low_balance', data: { threshold: lowBalanceThreshold, ...reference } });
  }
  if (before > 0 && after === 0) events.push({ type: 'credits.depleted', data: reference });
  return events;
}

/**
 * The events of a credit, known before the statement that writes it: a credit only raises the
 * balance, so it never crosses below the threshold nor reaches zero, and its events need the
 * balance only for their `balance`, which that statement fills in (LedgerRepository.credit).
 */
export function creditEventsOf(entry: Omit<WrittenLedgerEntry, 'balanceAfter'>): DueEvent[] {
  if (entry.amount < 0) throw new Error('creditEventsOf: not a credit');
  return sourceEventsOf(entry);
}

/** The events an entry causes by what it is (a purchase, a refund), without its `balance`. */
function sourceEventsOf(entry: Omit<WrittenLedgerEntry, 'balanceAfter'>): DueEvent[] {
  const reference = referenceOf(entry);
  if (entry.transactionType === 'purchase') {
    return [{ type: 'credits.purchased', data: { credits: entry.amount, ...reference } }];
  }
  if (entry.transactionType === 'refund') {
    return [{ type: 'credits.refunded', data: { credits: -entry.amount, ...reference } }];
  }
  return [];
}

function referenceOf(entry: Omit<WrittenLedgerEntry, 'balanceAfter'>): Record<string, unknown> {
  return {
    transaction_id: entry.entryId,
    ...(entry.checkoutSessionId ? { checkout_session_id: entry.checkoutSessionId } : {}),
  };
}
