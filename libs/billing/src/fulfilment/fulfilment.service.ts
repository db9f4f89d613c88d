import { Injectable, Logger } from '@nestjs/common';
import { eq, sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import { InjectConfig, type AppConfig } from '@credits/config';
import { checkoutSessions, Db, InjectDb, organizations, stripeEvents, users } from '@credits/database';
import { StripeGateway } from '@credits/stripe';
import { LedgerService, Tx } from '../ledger/ledger.service';

export type EventOutcome = 'processed' | 'duplicate' | 'ignored' | 'failed_permanently';

/** A failure that no retry can fix (e.g. an event for an org we do not know). */
class PermanentFailure extends Error {}

const HANDLED = new Set([
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
  'charge.refunded',
]);

type CheckoutRow = typeof checkoutSessions.$inferSelect;

/** The session an event applies to; `missing`: our record of it, rebuilt from Stripe, to insert. */
interface SessionTarget {
  sessionId: string;
  missing?: CheckoutRow;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The session a `checkout.session.*` event is about (undefined for other events, or none given). */
function checkoutSessionIdOf(event: Stripe.Event): string | undefined {
  if (!event.type.startsWith('checkout.session.')) return undefined;
  const id: unknown = (event.data.object as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

function paymentIntentOf(object: { payment_intent?: string | { id: string } | null }): string | null {
  const value = object.payment_intent;
  return typeof value === 'string' ? value : (value?.id ?? null);
}

/**
 * Applies verified Stripe events to the ledger, exactly once. Each event is handled in one
 * transaction that also records its id, so a crash leaves either all of it or none, and
 * Stripe's retry finds either "already seen" or a clean slate. Grants are keyed on the
 * Checkout session id (`purchase:<cs_id>`, unique), so duplicates, concurrency and any
 * order of `completed` / `async_payment_succeeded` grant once. The credits granted come from
 * our own record of the session (or from Stripe), never from the event body; a refund's
 * amounts are the charge's, from the signed event.
 */
@Injectable()
export class FulfilmentService {
  private readonly logger = new Logger(FulfilmentService.name);

  constructor(
    @InjectDb() private readonly db: Db,
    private readonly stripe: StripeGateway,
    @InjectConfig() private readonly config: AppConfig,
    private readonly ledger: LedgerService,
  ) {}

  async handle(event: Stripe.Event): Promise<EventOutcome> {
    if (!HANDLED.has(event.type)) {
      await this.record(this.db, event, 'ignored').catch(() => undefined);
      return 'ignored';
    }
    // A redelivery of an event already handled (or recorded as failed) costs one read, no
    // Stripe call; the same read tells whether we hold a record of the event's session.
    const sessionId = checkoutSessionIdOf(event);
    const { seen, known } = await this.seenAndKnown(event.id, sessionId ?? null);
    if (seen) return 'duplicate';

    // Fetched before the transaction: no transaction stays open across a Stripe call.
    let target: SessionTarget | undefined;
    try {
      target = await this.resolveSession(event, sessionId, known);
    } catch (error) {
      if (!(error instanceof PermanentFailure)) throw error;
      return this.permanentFailure(event, error.message);
    }

    try {
      return await this.db.transaction(async (tx) => {
        const fresh = await tx
          .insert(stripeEvents)
          .values({ id: event.id, type: event.type, outcome: 'processed' })
          .onConflictDoNothing()
          .returning({ id: stripeEvents.id });
        if (fresh.length === 0) return 'duplicate';
        if (target?.missing) await tx.insert(checkoutSessions).values(target.missing).onConflictDoNothing();
        await this.apply(tx, event, target?.sessionId);
        return 'processed';
      });
    } catch (error) {
      if (error instanceof PermanentFailure) return this.permanentFailure(event, error.message);
      throw error;
    }
  }

  private async apply(tx: Tx, event: Stripe.Event, sessionId: string | undefined): Promise<void> {
    switch (event.type) {
      case 'checkout.session.completed': {
        const session = event.data.object;
        if (session.payment_status === 'paid' || session.payment_status === 'no_payment_required') {
          await this.grant(tx, await this.lockSession(tx, session.id), paymentIntentOf(session));
        } else {
          // Paid later by an async method: wait for async_payment_succeeded.
          await this.transition(tx, session.id, (row) =>
            row.status === 'open'
              ? {
                  status: 'complete',
                  paymentStatus: session.payment_status,
                  stripePaymentIntentId: paymentIntentOf(session) ?? row.stripePaymentIntentId,
                }
              : undefined,
          );
        }
        return;
      }
      case 'checkout.session.async_payment_succeeded':
        await this.grant(tx, await this.lockSession(tx, event.data.object.id), paymentIntentOf(event.data.object));
        return;
      case 'checkout.session.async_payment_failed':
        return this.transition(tx, event.data.object.id, (row) =>
          row.fulfilledAt ? undefined : { status: 'failed', paymentStatus: 'unpaid' },
        );
      case 'checkout.session.expired':
        return this.transition(tx, event.data.object.id, (row) =>
          row.status === 'open' ? { status: 'expired' } : undefined,
        );
      case 'charge.refunded':
        return this.refund(tx, event.data.object, sessionId);
    }
  }

  /** Grants a locked session's credits (once: `purchase:<cs_id>` is unique) and marks it fulfilled. */
  private async grant(tx: Tx, row: CheckoutRow, paymentIntent: string | null): Promise<CheckoutRow> {
    const update = {
      status: 'complete' as const,
      paymentStatus: 'paid',
      fulfilledAt: row.fulfilledAt ?? new Date(),
      stripePaymentIntentId: paymentIntent ?? row.stripePaymentIntentId,
      updatedAt: new Date(),
    };
    // The session is marked in the ledger's own statement, granted or not: a grant already in
    // the ledger means it was paid all the same.
    const { applied } = await this.ledger.apply(
      tx,
      {
        orgId: row.orgId,
        amount: row.credits,
        transactionType: 'purchase',
        description: `Purchase of ${row.bundles} credit bundle${row.bundles === 1 ? '' : 's'} (${row.credits} credits)`,
        sourceRef: `purchase:${row.id}`,
        checkoutSessionId: row.id,
      },
      tx.update(checkoutSessions).set(update).where(eq(checkoutSessions.id, row.id)).getSQL(),
    );
    if (applied)
      this.logger.log({ msg: 'credits granted', checkout_session_id: row.id, org_id: row.orgId, credits: row.credits });
    return { ...row, ...update };
  }

  /**
   * A refund debits the refunded share of the session's credits:
   * floor(credits × amount_refunded / amount_paid), cumulative, so partial refunds add up
   * and a repeated or late event debits only what is still owed. The total debited never
   * exceeds what the session granted, and never takes the balance below zero: credits
   * already spent are forgiven (logged for an operator), not clawed back into a negative
   * balance, nor from a later purchase when the same charge is refunded further
   * (`refund_settled_credits` counts them as settled).
   */
  private async refund(tx: Tx, charge: Stripe.Charge, sessionId: string | undefined): Promise<void> {
    if (!sessionId) throw new PermanentFailure(`refund for charge ${charge.id} matches no checkout session`);
    let row = await this.lockSession(tx, sessionId);
    if (!row.fulfilledAt) {
      // The refund overtook the payment event (Stripe does not keep order). A charge that was
      // refunded was paid: grant now, so the debit below has something to debit and the
      // payment event, when it comes, finds the grant done.
      if (!(charge.paid && charge.status === 'succeeded')) {
        throw new PermanentFailure(
          `refund for charge ${charge.id}, which was never paid, on unfulfilled checkout session ${row.id}`,
        );
      }
      row = await this.grant(tx, row, paymentIntentOf(charge));
    }
    const paid = charge.amount || row.amountTotal || 0;
    const owed = paid > 0 ? Math.min(row.credits, Math.floor((row.credits * charge.amount_refunded) / paid)) : 0;
    let debit = owed - row.refundSettledCredits;
    if (debit <= 0) return;
    // Settled from now on, whether debited below or forgiven because it was already spent.
    await tx
      .update(checkoutSessions)
      .set({ refundSettledCredits: owed, updatedAt: new Date() })
      .where(eq(checkoutSessions.id, row.id));
    const balance = await this.ledger.lockBalance(tx, row.orgId);
    if (debit > balance) {
      this.logger.warn({
        msg: 'refund exceeds the remaining balance; debiting what is left, forgiving the rest',
        checkout_session_id: row.id,
        owed: debit,
        balance,
        forgiven: debit - balance,
      });
      debit = balance;
    }
    if (debit === 0) return;
    await this.ledger.apply(tx, {
      orgId: row.orgId,
      amount: -debit,
      transactionType: 'refund',
      description: `Refund of ${charge.amount_refunded} of ${paid} ${(charge.currency ?? row.currency ?? '').toUpperCase()} (charge ${charge.id})`,
      sourceRef: `refund:${charge.id}:${charge.amount_refunded}`,
      checkoutSessionId: row.id,
    });
  }

  private async transition(
    tx: Tx,
    sessionId: string,
    change: (row: CheckoutRow) => Partial<CheckoutRow> | undefined,
  ): Promise<void> {
    const row = await this.lockSession(tx, sessionId);
    const update = change(row);
    if (update)
      await tx
        .update(checkoutSessions)
        .set({ ...update, updatedAt: new Date() })
        .where(eq(checkoutSessions.id, row.id));
  }

  private async lockSession(tx: Tx, sessionId: string): Promise<CheckoutRow> {
    const [row] = await tx.select().from(checkoutSessions).where(eq(checkoutSessions.id, sessionId)).for('update');
    if (!row) throw new PermanentFailure(`checkout session ${sessionId} is unknown`);
    return row;
  }

  /**
   * The Checkout session an event is about, and our record of it when we have none (e.g. the
   * process died between Stripe creating the session and our insert): rebuilt from Stripe
   * itself, line items expanded, never from the event. A refund names only its payment
   * intent: our record has it once a payment event was applied; otherwise Stripe is asked
   * which session it paid.
   */
  private async resolveSession(
    event: Stripe.Event,
    checkoutSessionId: string | undefined,
    sessionKnown: boolean,
  ): Promise<SessionTarget | undefined> {
    let sessionId: string;
    if (event.type === 'charge.refunded') {
      const charge = event.data.object;
      const paymentIntent = paymentIntentOf(charge);
      if (!paymentIntent)
        throw new PermanentFailure(
          `refund for charge ${charge.id} has no payment intent: it was not a Checkout payment`,
        );
      const [ours] = await this.db
        .select({ id: checkoutSessions.id })
        .from(checkoutSessions)
        .where(eq(checkoutSessions.stripePaymentIntentId, paymentIntent));
      if (ours) return { sessionId: ours.id };
      const found = await this.stripe.listCheckoutSessions({ payment_intent: paymentIntent, limit: 1 });
      if (found.data.length === 0)
        throw new PermanentFailure(`refund for charge ${charge.id} matches no checkout session`);
      sessionId = found.data[0].id;
      const [known] = await this.db
        .select({ id: checkoutSessions.id })
        .from(checkoutSessions)
        .where(eq(checkoutSessions.id, sessionId));
      sessionKnown = known !== undefined;
    } else if (event.type.startsWith('checkout.session.')) {
      if (checkoutSessionId === undefined) throw new PermanentFailure('checkout session event without a session id');
      sessionId = checkoutSessionId;
    } else {
      return undefined;
    }
    if (sessionKnown) return { sessionId };
    return { sessionId, missing: await this.sessionFromStripe(sessionId) };
  }

  /** Whether the event was handled before, and whether we hold a record of its Checkout session: one round trip. */
  private async seenAndKnown(eventId: string, sessionId: string | null): Promise<{ seen: boolean; known: boolean }> {
    const result = await this.db.execute(sql`
      select exists (select 1 from ${stripeEvents} where ${stripeEvents.id} = ${eventId}::text) as seen,
             exists (select 1 from ${checkoutSessions} where ${checkoutSessions.id} = ${sessionId}::text) as known`);
    const [row] = (result as { rows: { seen: boolean; known: boolean }[] }).rows;
    return { seen: row?.seen === true, known: row?.known === true };
  }

  private async sessionFromStripe(sessionId: string): Promise<CheckoutRow> {
    const session = await this.stripe.retrieveCheckoutSession(sessionId, { expand: ['line_items'] });
    // No retry will make it exist (e.g. a hand-made test event): not a transient failure.
    if (!session) throw new PermanentFailure(`checkout session ${sessionId} does not exist at Stripe`);
    const orgId = session.metadata?.org_id ?? session.client_reference_id;
    const userId = session.metadata?.user_id;
    const bundles = session.line_items?.data.reduce((sum, item) => sum + (item.quantity ?? 0), 0) ?? 0;
    if (!orgId || !userId || bundles <= 0)
      throw new PermanentFailure(`checkout session ${sessionId} was not created by this service`);
    // Not a UUID: no row can match, and PostgreSQL would reject the comparison (a 500 retried for days).
    if (!UUID.test(orgId))
      throw new PermanentFailure(`checkout session ${sessionId} names an unknown organization ${orgId}`);
    if (!UUID.test(userId)) throw new PermanentFailure(`checkout session ${sessionId} names an unknown user ${userId}`);
    const [org] = await this.db.select({ id: organizations.id }).from(organizations).where(eq(organizations.id, orgId));
    if (!org) throw new PermanentFailure(`checkout session ${sessionId} names an unknown organization ${orgId}`);
    const [user] = await this.db.select({ id: users.id }).from(users).where(eq(users.id, userId));
    if (!user) throw new PermanentFailure(`checkout session ${sessionId} names an unknown user ${userId}`);
    // The credits promised when the session was created (CREDITS_PER_BUNDLE may have changed
    // since), as long as they are for the bundles actually bought.
    const promised = Number(session.metadata?.credits);
    const credits =
      Number.isSafeInteger(promised) && promised > 0 && session.metadata?.bundles === String(bundles)
        ? promised
        : bundles * this.config.checkout.creditsPerBundle;
    return {
      id: session.id,
      orgId,
      userId,
      bundles,
      credits,
      amountTotal: session.amount_total,
      currency: session.currency,
      status: 'open',
      paymentStatus: 'unpaid',
      fulfilledAt: null,
      stripePaymentIntentId: null,
      refundSettledCredits: 0,
      expiresAt: session.expires_at ? new Date(session.expires_at * 1000) : null,
      createdAt: new Date(session.created * 1000),
      updatedAt: new Date(),
    };
  }

  private async permanentFailure(event: Stripe.Event, detail: string): Promise<EventOutcome> {
    this.logger.error({
      msg: 'Stripe event cannot be applied; recorded for an operator',
      event_id: event.id,
      event_type: event.type,
      detail,
    });
    await this.record(this.db, event, 'failed_permanently', detail);
    return 'failed_permanently';
  }

  private async record(db: Db | Tx, event: Stripe.Event, outcome: EventOutcome, detail?: string): Promise<void> {
    await db.insert(stripeEvents).values({ id: event.id, type: event.type, outcome, detail }).onConflictDoNothing();
  }
}
