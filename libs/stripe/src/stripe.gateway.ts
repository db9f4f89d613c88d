import { Injectable } from '@nestjs/common';
import Stripe from 'stripe';
import { InjectConfig, type AppConfig } from '@credits/config';
import { InvalidRequestError, InvalidSignatureError } from '@credits/errors';
import { currentDeadline } from '@credits/traffic';
import { callStripe } from './stripe-call';
import { InjectStripe } from './stripe.provider';

/** Stripe's own default: a signature older than this is a replay. */
export const SIGNATURE_TOLERANCE_SEC = 300;

/**
 * Every call to Stripe goes through here. Each method bounds its call by a deadline (never
 * past the request's own), sends the idempotency key it is given, and turns any Stripe
 * failure into the envelope (`mapStripeError`): a caller gets a Stripe object or an
 * `ApiException`, nothing else.
 */
@Injectable()
export class StripeGateway {
  /** The longest one call may take, every retry included (`STRIPE_TIMEOUT_MS` × attempts). */
  readonly callDeadlineMs: number;

  constructor(
    @InjectStripe() private readonly stripe: Stripe,
    @InjectConfig() config: AppConfig,
  ) {
    this.callDeadlineMs = config.stripe.callDeadlineMs;
  }

  // Customers

  createCustomer(params: Stripe.CustomerCreateParams, idempotencyKey: string): Promise<Stripe.Customer> {
    return callStripe(this.callDeadlineMs, () => this.stripe.customers.create(params, { idempotencyKey }));
  }

  // Checkout sessions

  createCheckoutSession(
    params: Stripe.Checkout.SessionCreateParams,
    idempotencyKey: string | undefined,
  ): Promise<Stripe.Checkout.Session> {
    return callStripe(this.callDeadlineMs, () =>
      this.stripe.checkout.sessions.create(params, idempotencyKey ? { idempotencyKey } : undefined),
    );
  }

  /** Null when Stripe does not know the session: no retry would change that, unlike a failure. */
  retrieveCheckoutSession(
    id: string,
    params?: Stripe.Checkout.SessionRetrieveParams,
  ): Promise<Stripe.Checkout.Session | null> {
    return callStripe(this.callDeadlineMs, () =>
      this.stripe.checkout.sessions.retrieve(id, params).catch((error: unknown) => {
        if (
          error instanceof Stripe.errors.StripeInvalidRequestError &&
          (error.statusCode === 404 || error.code === 'resource_missing')
        )
          return null;
        throw error;
      }),
    );
  }

  listCheckoutSessions(params: Stripe.Checkout.SessionListParams): Promise<Stripe.ApiList<Stripe.Checkout.Session>> {
    return callStripe(this.callDeadlineMs, () => this.stripe.checkout.sessions.list(params));
  }

  // Calls shared between requests

  /**
   * Waits for a call another request started (one customer creation shared by concurrent
   * first purchases): meanwhile this request is waiting on Stripe too, so its own deadline
   * answers 504, as it would for a call of its own.
   */
  join<T>(call: Promise<T>): Promise<T> {
    const request = currentDeadline();
    return request ? request.trackStripe(call) : call;
  }

  // Webhooks

  /** A webhook payload verified against its `Stripe-Signature`, or the envelope's 400. No call leaves the process. */
  constructEvent(payload: Buffer, signature: string, secret: string): Stripe.Event {
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(payload, signature, secret, SIGNATURE_TOLERANCE_SEC);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
        throw new InvalidSignatureError(
          'Invalid Stripe-Signature: the signature does not match the payload, or it is too old',
        );
      }
      throw new InvalidRequestError('Webhook payload is not a Stripe event');
    }
    if (typeof event?.id !== 'string' || typeof event.type !== 'string' || !event.data?.object) {
      throw new InvalidRequestError('Webhook payload is not a Stripe event');
    }
    return event;
  }
}
