import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { Db, DbTransaction, InjectDb } from '@credits/database';
import { AutoRefillPayments } from '../auto-refill/auto-refill-payments';
import { CheckoutSessionRepository, CheckoutSessionRow } from '../checkout/checkout-session.repository';
import { CheckoutSessionSource, paymentIntentOf, SessionTarget } from './checkout-session-source';
import { PermanentFailure } from './permanent-failure';
import { PurchaseEvents, sessionGrantedBy } from './purchase-events';
import { PurchasePayment, PurchasePaymentSource } from './purchase-payment';
import type { SubscribedTypes } from '../notifications/notification-events';
import { EventOutcome, StripeEventRepository } from './stripe-event.repository';

export type { EventOutcome } from './stripe-event.repository';

/**
 * Each statement of an event's transaction reads what committed before it, whatever the
 * database's default: the statement that records the event reads which notification types
 * endpoints take, and only a snapshot taken after its table locks sees an endpoint registered
 * while it waited for them (`NotificationRepository.addEndpoint`). Said in the BEGIN itself.
 */
const READ_COMMITTED = { isolationLevel: 'read committed' } as const;

type EventOf<T extends Stripe.Event.Type> = Extract<Stripe.Event, { type: T }>;
/** What an event applies to, found before its transaction. */
interface HandlerTarget {
  /** The Checkout session (a `checkout.session.*` event's, or the one a refund's charge paid). */
  sessionId?: string;
  /** The event's session, already locked by this transaction (when it was). */
  locked?: CheckoutSessionRow;
  /** The auto-refill a refund's charge paid. */
  refillId?: string;
  /** A paid session's card to keep and receipt, read from Stripe. */
  payment?: PurchasePayment;
  /** The notification event types some endpoint takes, read with the lock (when it was). */
  subscribed?: SubscribedTypes;
}
type Handler<T extends Stripe.Event.Type> = (
  tx: DbTransaction,
  event: EventOf<T>,
  target: HandlerTarget,
) => Promise<unknown>;

/** The session a `checkout.session.*` event is about (undefined for other events, or none given). */
function checkoutSessionIdOf(event: Stripe.Event): string | undefined {
  if (!event.type.startsWith('checkout.session.')) return undefined;
  const id: unknown = (event.data.object as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Applies verified Stripe events, exactly once: routes each event type to its handler
 * (`PurchaseEvents`), and records every event it is given. Each event is handled in one
 * transaction that also records its id, so a crash leaves either all of it or none, and
 * Stripe's retry finds either "already seen" or a clean slate. An event that can never apply
 * is recorded as such and answered 2xx; a transient failure throws (5xx), so Stripe retries.
 */
@Injectable()
export class FulfilmentService {
  private readonly logger = new Logger(FulfilmentService.name);

  private readonly handlers: { [T in Stripe.Event.Type]?: Handler<T> } = {
    'checkout.session.completed': (tx, event, { locked, payment, subscribed }) =>
      this.purchases.completed(tx, event.data.object, locked, payment, subscribed),
    'checkout.session.async_payment_succeeded': (tx, event, { locked, payment, subscribed }) =>
      this.purchases.paid(tx, event.data.object, locked, payment, subscribed),
    'checkout.session.async_payment_failed': (tx, event, { locked }) =>
      this.purchases.failed(tx, event.data.object.id, locked),
    'checkout.session.expired': (tx, event, { locked }) => this.purchases.expired(tx, event.data.object.id, locked),
    // A refund of an auto-refill's charge names no Checkout session (CheckoutSessionSource).
    'charge.refunded': (tx, event, { sessionId, locked, refillId, subscribed }) =>
      refillId === undefined
        ? this.purchases.refunded(tx, event.data.object, sessionId, locked, subscribed)
        : this.autoRefills.refunded(tx, event.data.object, refillId),
    // Checkout's own payment intents raise these too: only an auto-refill's is acted on.
    'payment_intent.succeeded': (tx, event) => this.autoRefills.paymentSucceeded(tx, event.data.object),
    'payment_intent.payment_failed': (tx, event) => this.autoRefills.paymentFailed(tx, event.data.object),
  };

  constructor(
    @InjectDb() private readonly db: Db,
    private readonly events: StripeEventRepository,
    private readonly sessions: CheckoutSessionRepository,
    private readonly source: CheckoutSessionSource,
    private readonly purchases: PurchaseEvents,
    private readonly autoRefills: AutoRefillPayments,
    private readonly payments: PurchasePaymentSource,
  ) {}

  /**
   * Applies what Stripe itself reports of a session, outside any event (the landing page,
   * reconciliation): the same handlers, lock and unique grant as the session's
   * `checkout.session.completed` / `expired`, so whichever comes first grants and the others
   * find it done. `session` must come from Stripe's API, never from a caller. `missing`: our
   * record, rebuilt from Stripe, when we hold none. True when this call granted the credits.
   */
  async settle(session: Stripe.Checkout.Session, missing?: CheckoutSessionRow): Promise<boolean> {
    if (session.status === 'open') return false;
    const payment = await this.payments.of(session);
    return this.db.transaction(async (tx) => {
      if (missing) await this.sessions.in(tx).insert(missing.orgId, missing);
      if (session.status === 'expired') {
        await this.purchases.expired(tx, session.id);
        return false;
      }
      return this.purchases.completed(tx, session, undefined, payment);
    });
  }

  async handle(event: Stripe.Event): Promise<EventOutcome> {
    // One signature for every handler: the map above pairs each type with its own event.
    const handler = this.handlers[event.type] as Handler<Stripe.Event.Type> | undefined;
    if (!handler) {
      await this.events.record(event, 'ignored').catch(() => undefined);
      return 'ignored';
    }
    // A redelivery of an event already handled (or recorded as failed) costs one read, no
    // Stripe call; the same read tells whether we hold a record of the event's session.
    const sessionId = checkoutSessionIdOf(event);
    const { seen, known, granted } = await this.events.lookup(event.id, sessionId ?? null);
    if (seen) return 'duplicate';

    // Fetched before the transaction: no transaction stays open across a Stripe call.
    let target: SessionTarget | undefined;
    let refillId: string | undefined;
    try {
      const found = await this.source.targetOf(event, sessionId, known);
      if (found && 'refillId' in found) refillId = found.refillId;
      else target = found;
    } catch (error) {
      if (!(error instanceof PermanentFailure)) throw error;
      return this.permanentFailure(event, error.message);
    }
    // A session already granted (the success page came first) takes nothing of this payment.
    const payment =
      !granted &&
      (event.type === 'checkout.session.completed' || event.type === 'checkout.session.async_payment_succeeded')
        ? await this.payments.of(event.data.object)
        : undefined;

    try {
      return await this.db.transaction(async (tx) => {
        const events = this.events.in(tx);
        const missing = target?.missing;
        let locked: CheckoutSessionRow | undefined;
        let subscribed: SubscribedTypes | undefined;
        if (target && !missing) {
          // Every handler of an event with a session locks it first: recording the event and
          // taking that lock share one round trip, and so does marking it granted when the
          // event grants whatever the session's record says.
          const granted = sessionGrantedBy(event);
          const recorded = granted
            ? await events.recordProcessedGranting(event, target.sessionId, paymentIntentOf(granted))
            : await events.recordProcessedLocking(event, target.sessionId);
          if (!recorded.session) throw new PermanentFailure(`checkout session ${target.sessionId} is unknown`);
          if (!recorded.fresh) return 'duplicate';
          locked = recorded.session;
          subscribed = recorded.subscribed;
        } else {
          if (!(await events.recordProcessed(event))) return 'duplicate';
          if (missing) await this.sessions.in(tx).insert(missing.orgId, missing);
        }
        await handler(tx, event, { sessionId: target?.sessionId, locked, refillId, payment, subscribed });
        return 'processed';
      }, READ_COMMITTED);
    } catch (error) {
      if (error instanceof PermanentFailure) return this.permanentFailure(event, error.message);
      throw error;
    }
  }

  private async permanentFailure(event: Stripe.Event, detail: string): Promise<EventOutcome> {
    this.logger.error({
      msg: 'Stripe event cannot be applied; recorded for an operator',
      event_id: event.id,
      event_type: event.type,
      detail,
    });
    await this.events.record(event, 'failed_permanently', detail);
    return 'failed_permanently';
  }
}
