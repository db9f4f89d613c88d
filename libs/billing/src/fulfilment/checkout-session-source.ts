import { Injectable } from '@nestjs/common';
import type Stripe from 'stripe';
import { InjectConfig, type AppConfig } from '@credits/config';
import { StripeGateway } from '@credits/stripe';
import { OrganizationsRepository } from '@credits/auth/directory/organizations.repository';
import { AutoRefillRepository } from '../auto-refill/auto-refill.repository';
import { CheckoutSessionRepository, CheckoutSessionRow } from '../checkout/checkout-session.repository';
import { PermanentFailure } from './permanent-failure';

/** The session an event applies to; `missing`: our record of it, rebuilt from Stripe, to insert. */
export interface SessionTarget {
  sessionId: string;
  missing?: CheckoutSessionRow;
}

/** The auto-refill a refund's charge paid (AutoRefillPayments settles it). */
export interface RefillTarget {
  refillId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function paymentIntentOf(object: { payment_intent?: string | { id: string } | null }): string | null {
  const value = object.payment_intent;
  return typeof value === 'string' ? value : (value?.id ?? null);
}

/**
 * Finds the Checkout session an event is about, and rebuilds our record of it when we have
 * none (e.g. the process died between Stripe creating the session and our insert): from
 * Stripe itself, line items expanded, never from the event. Runs before the event's
 * transaction: no transaction stays open across a Stripe call.
 */
@Injectable()
export class CheckoutSessionSource {
  constructor(
    private readonly stripe: StripeGateway,
    private readonly sessions: CheckoutSessionRepository,
    private readonly organizations: OrganizationsRepository,
    private readonly refills: AutoRefillRepository,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /**
   * `checkoutSessionId`: the session a `checkout.session.*` event names; `known`: whether we
   * hold a record of it. A refund names only its payment intent: our record of a session or
   * a refill has it once its payment was applied; otherwise Stripe is asked which session it
   * paid, or, for none, which refill (the intent's metadata names it: a refund may come before
   * the refill's charge answer or `payment_intent.succeeded`).
   */
  async targetOf(
    event: Stripe.Event,
    checkoutSessionId: string | undefined,
    known: boolean,
  ): Promise<SessionTarget | RefillTarget | undefined> {
    let sessionId: string;
    if (event.type === 'charge.refunded') {
      const charge = event.data.object;
      const paymentIntent = paymentIntentOf(charge);
      if (!paymentIntent)
        throw new PermanentFailure(
          `refund for charge ${charge.id} has no payment intent: it was not a Checkout payment`,
        );
      const ours = await this.sessions.idByPaymentIntent(paymentIntent);
      if (ours) return { sessionId: ours };
      const refillId = await this.refills.idByPaymentIntent(paymentIntent);
      if (refillId) return { refillId };
      const found = await this.stripe.listCheckoutSessions({ payment_intent: paymentIntent, limit: 1 });
      if (found.data.length === 0) {
        const named = (await this.stripe.retrievePaymentIntent(paymentIntent))?.metadata?.auto_refill_id;
        if (named && UUID.test(named)) return { refillId: named };
        throw new PermanentFailure(`refund for charge ${charge.id} matches no checkout session nor auto-refill`);
      }
      sessionId = found.data[0].id;
      known = await this.sessions.exists(sessionId);
    } else if (event.type.startsWith('checkout.session.')) {
      if (checkoutSessionId === undefined) throw new PermanentFailure('checkout session event without a session id');
      sessionId = checkoutSessionId;
    } else {
      return undefined;
    }
    if (known) return { sessionId };
    return { sessionId, missing: await this.rebuild(sessionId) };
  }

  /** Our record of a session, as Stripe has it, with the credits promised when it was created. */
  async rebuild(sessionId: string): Promise<CheckoutSessionRow> {
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
    const exist = await this.organizations.exist(orgId, userId);
    if (!exist.org) throw new PermanentFailure(`checkout session ${sessionId} names an unknown organization ${orgId}`);
    if (!exist.user) throw new PermanentFailure(`checkout session ${sessionId} names an unknown user ${userId}`);
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
      savePaymentMethod: session.metadata?.save_payment_method === 'true',
      refundSettledCredits: 0,
      expiresAt: session.expires_at ? new Date(session.expires_at * 1000) : null,
      createdAt: new Date(session.created * 1000),
      updatedAt: new Date(),
    };
  }
}
