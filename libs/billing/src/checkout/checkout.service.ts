import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type Stripe from 'stripe';
import type { OrgContext, Principal, UserPrincipal } from '@credits/auth';
import { InjectConfig, type AppConfig } from '@credits/config';
import { ForbiddenError } from '@credits/errors';
import { StripeGateway } from '@credits/stripe';
import { IdempotencyService, IdempotentResult, requestHash } from '../idempotency/idempotency.service';
import { CheckoutSessionRepository, NewSessionValues } from './checkout-session.repository';
import { CheckoutSessionResponse, CreateCheckoutSessionRequest } from './checkout.dto';
import { StripeCustomers } from './stripe-customers';

@Injectable()
export class CheckoutService {
  constructor(
    private readonly sessions: CheckoutSessionRepository,
    private readonly stripe: StripeGateway,
    @InjectConfig() private readonly config: AppConfig,
    private readonly customers: StripeCustomers,
    private readonly idempotency: IdempotencyService,
  ) {}

  async create(
    org: OrgContext,
    principal: Principal,
    request: CreateCheckoutSessionRequest,
    idempotencyKey: string | undefined,
  ): Promise<IdempotentResult<CheckoutSessionResponse>> {
    // The CLI refuses credits:purchase to a service key; this holds even for one made otherwise.
    if (principal.kind !== 'user') {
      throw new ForbiddenError('A service key cannot buy credits: a purchase records the person who pays');
    }
    if (idempotencyKey === undefined) {
      const { body, session } = await this.createSession(org, principal, request, undefined);
      await this.sessions.insert(org.id, session);
      return { body, replayed: false };
    }
    const scope = { userId: principal.callerId, orgId: org.id, key: idempotencyKey };
    // Held longer than any attempt can run (two Stripe calls), so only a dead request's claim is taken over.
    const lockMs = 2 * this.stripe.callDeadlineMs + 5000;
    return this.idempotency.runAnswering(scope, requestHash(hashedBody(request)), lockMs, async (claim) => {
      const stripeKey = stripeIdempotencyKey(org, principal, idempotencyKey);
      const { body, session } = await this.createSession(org, principal, request, stripeKey);
      // Recorded only now that Stripe has the session, with the key's answer in the same
      // statement. A request that dies before it leaves its key to be taken over: the retry gets
      // the same session back from Stripe (the same Stripe key) and records it then.
      await this.sessions.insertAnswering(org.id, session, claim, body);
      return body;
    });
  }

  private async createSession(
    org: OrgContext,
    principal: UserPrincipal,
    request: CreateCheckoutSessionRequest,
    stripeKey: string | undefined,
  ): Promise<{ body: CheckoutSessionResponse; session: NewSessionValues }> {
    const { checkout } = this.config;
    const bundles = request.quantity;
    const credits = bundles * checkout.creditsPerBundle;
    const customer = await this.customers.customerFor(org);
    const metadata = {
      org_id: org.id,
      org_slug: org.slug,
      user_id: principal.userId,
      bundles: String(bundles),
      credits: String(credits),
      // Read back on fulfilment (CheckoutSessionSource) when our record has to be rebuilt.
      ...(request.save_payment_method ? { save_payment_method: 'true' } : {}),
    };
    const lineItem: Stripe.Checkout.SessionCreateParams.LineItem = checkout.priceId
      ? { price: checkout.priceId, quantity: bundles }
      : {
          quantity: bundles,
          price_data: {
            currency: checkout.currency,
            unit_amount: checkout.unitAmount,
            product_data: { name: checkout.productName, description: `${checkout.creditsPerBundle} credits` },
          },
        };

    const session = await this.stripe.createCheckoutSession(
      {
        mode: 'payment',
        customer,
        client_reference_id: org.id,
        line_items: [lineItem],
        success_url: request.success_url,
        cancel_url: request.cancel_url,
        metadata,
        ...(request.save_payment_method ? { payment_intent_data: { setup_future_usage: 'off_session' as const } } : {}),
      },
      stripeKey,
    );

    const expiresAt = session.expires_at ? new Date(session.expires_at * 1000) : null;
    const record: NewSessionValues = {
      id: session.id,
      userId: principal.userId,
      bundles,
      credits,
      amountTotal: session.amount_total,
      currency: session.currency,
      status: 'open',
      savePaymentMethod: request.save_payment_method,
      expiresAt,
    };

    const body: CheckoutSessionResponse = {
      checkout_url: session.url!,
      session_id: session.id,
      expires_at: expiresAt?.toISOString() ?? null,
      credits,
      amount_total: session.amount_total,
      currency: session.currency,
    };
    return { body, session: record };
  }
}

/**
 * The body a key's hash covers. `save_payment_method` left at its default is left out, so a
 * key stored before the field existed still matches the same body sent again.
 */
function hashedBody(request: CreateCheckoutSessionRequest): object {
  if (request.save_payment_method) return request;
  const { save_payment_method: _default, ...rest } = request;
  return rest;
}

/** Scoped so two callers' keys never collide at Stripe, and hashed so no caller text leaves us. */
function stripeIdempotencyKey(org: OrgContext, principal: Principal, key: string): string {
  return `credits-api:checkout:${createHash('sha256').update(`${org.id}\n${principal.callerId}\n${key}`).digest('hex')}`;
}
