import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { Db, DbTransaction, InjectDb } from '@credits/database';
import { AutoRefillPayments } from '../auto-refill/auto-refill-payments';
import { CheckoutSessionRepository, CheckoutSessionRow } from '../checkout/checkout-session.repository';
import type { CreditSentWithCommit } from '../ledger/ledger.service';
import { CreditNotWritten } from '../ledger/ledger.repository';
import { CheckoutSessionSource, SessionTarget } from './checkout-session-source';
import { PermanentFailure } from './permanent-failure';
import { PurchaseEvents } from './purchase-events';
import { PurchasePayment, PurchasePaymentSource } from './purchase-payment';
import { EventOutcome, StripeEventRepository } from './stripe-event.repository';

export type { EventOutcome } from './stripe-event.repository';

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
  /** Given, a grant sends its credit with the COMMIT (`LedgerService.creditWithCommit`). */
  sent?: CreditSentWithCommit;
}
/** What `apply` is given: the target found before the transaction, and our record of a session to insert. */
type Applying = Omit<HandlerTarget, 'locked'> & { missing?: CheckoutSessionRow };
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
    'checkout.session.completed': (tx, event, { locked, payment, sent }) =>
      this.purchases.completed(tx, event.data.object, locked, payment, sent),
    'checkout.session.async_payment_succeeded': (tx, event, { locked, payment, sent }) =>
      this.purchases.paid(tx, event.data.object, locked, payment, sent),
    'checkout.session.async_payment_failed': (tx, event, { locked }) =>
      this.purchases.failed(tx, event.data.object.id, locked),
    'checkout.session.expired': (tx, event, { locked }) => this.purchases.expired(tx, event.data.object.id, locked),
    // A refund of an auto-refill's charge names no Checkout session (CheckoutSessionSource).
    'charge.refunded': (tx, event, { sessionId, locked, refillId }) =>
      refillId === undefined
        ? this.purchases.refunded(tx, event.data.object, sessionId, locked)
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

    const applying = { sessionId: target?.sessionId, missing: target?.missing, refillId, payment };
    try {
      try {
        return await this.applyWithCommit(event, handler, applying);
      } catch (error) {
        // The credit sent with the COMMIT wrote nothing (an expiry of the org was due first, or
        // the grant was in the ledger already) and nothing of its transaction was kept: the
        // usual way settles the expiry first, or withdraws the jobs of a grant not made.
        if (!(error instanceof CreditNotWritten)) throw error;
        return await this.db.transaction((tx) => this.apply(tx, event, handler, applying));
      }
    } catch (error) {
      if (error instanceof PermanentFailure) return this.permanentFailure(event, error.message);
      throw error;
    }
  }

  /**
   * `apply` in a transaction whose grant, if any, sends its credit with the COMMIT: the credit's
   * outcome, known once the transaction has ended, is the transaction's (on PostgreSQL the
   * COMMIT of a transaction a statement aborted answers ROLLBACK, not an error).
   */
  private async applyWithCommit(
    event: Stripe.Event,
    handler: Handler<Stripe.Event.Type>,
    applying: Omit<Applying, 'sent'>,
  ): Promise<EventOutcome> {
    const sent: CreditSentWithCommit = {};
    let outcome: EventOutcome;
    try {
      outcome = await this.db.transaction((tx) => this.apply(tx, event, handler, { ...applying, sent }));
    } catch (error) {
      // Its failure is why the COMMIT failed (PGlite throws there): its error is the one to see.
      await sent.written;
      throw error;
    }
    await sent.written;
    sent.committed?.();
    return outcome;
  }

  /** Records the event and runs its handler in `tx`, its session locked first (when it has one). */
  private async apply(
    tx: DbTransaction,
    event: Stripe.Event,
    handler: Handler<Stripe.Event.Type>,
    { sessionId, missing, refillId, payment, sent }: Applying,
  ): Promise<EventOutcome> {
    const events = this.events.in(tx);
    let locked: CheckoutSessionRow | undefined;
    if (sessionId !== undefined && !missing) {
      // Every handler of an event with a session locks it first: recording the event and
      // taking that lock share one round trip.
      const recorded = await events.recordProcessedLocking(event, sessionId);
      if (!recorded.session) throw new PermanentFailure(`checkout session ${sessionId} is unknown`);
      if (!recorded.fresh) return 'duplicate';
      locked = recorded.session;
    } else {
      if (!(await events.recordProcessed(event))) return 'duplicate';
      if (missing) await this.sessions.in(tx).insert(missing.orgId, missing);
    }
    await handler(tx, event, { sessionId, locked, refillId, payment, sent });
    return 'processed';
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
