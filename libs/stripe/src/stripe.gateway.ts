import { Injectable } from '@nestjs/common';
import Stripe from 'stripe';
import { InjectConfig, type AppConfig } from '@credits/config';
import { InvalidRequestError, InvalidSignatureError } from '@credits/errors';
import { currentDeadline } from '@credits/traffic';
import { callStripe } from './stripe-call';
import { InjectStripe } from './stripe.provider';

/** What charging a saved card off-session came to. */
export type OffSessionPayment =
  | { status: 'succeeded'; paymentIntent: Stripe.PaymentIntent; receiptUrl: string | null }
  | { status: 'processing'; paymentIntent: Stripe.PaymentIntent }
  | {
      status: 'declined';
      paymentIntentId: string | null;
      /** Stripe's error code: `card_declined`, `expired_card`, `authentication_required`, … */
      code: string;
      /** The issuer's reason when Stripe gives one (`insufficient_funds`, `generic_decline`, …). */
      declineCode: string | null;
      message: string;
    };

/** The receipt of a payment intent's latest charge, when it was expanded and has one. */
export function receiptUrlOf(intent: Stripe.PaymentIntent): string | null {
  const charge = intent.latest_charge;
  return typeof charge === 'object' && charge !== null ? (charge.receipt_url ?? null) : null;
}

/**
 * A payment intent Stripe answered without a card error. Off-session, one that still needs
 * the customer (`requires_action`) or another card (`requires_payment_method`) cannot go on
 * without them: for us that is a decline too.
 */
function offSessionOutcome(intent: Stripe.PaymentIntent): OffSessionPayment {
  if (intent.status === 'succeeded')
    return { status: 'succeeded', paymentIntent: intent, receiptUrl: receiptUrlOf(intent) };
  if (intent.status === 'processing') return { status: 'processing', paymentIntent: intent };
  const error = intent.last_payment_error;
  return {
    status: 'declined',
    paymentIntentId: intent.id,
    code: error?.code ?? (intent.status === 'requires_action' ? 'authentication_required' : 'card_declined'),
    declineCode: error?.decline_code ?? null,
    message: error?.message ?? `The payment could not complete without the customer (${intent.status})`,
  };
}

function nullWhenMissing(error: unknown): null {
  if (
    error instanceof Stripe.errors.StripeInvalidRequestError &&
    (error.statusCode === 404 || error.code === 'resource_missing')
  )
    return null;
  throw error;
}

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
  /** The longest one attempt may take (`STRIPE_TIMEOUT_MS`). */
  private readonly attemptTimeoutMs: number;

  constructor(
    @InjectStripe() private readonly stripe: Stripe,
    @InjectConfig() config: AppConfig,
  ) {
    this.callDeadlineMs = config.stripe.callDeadlineMs;
    this.attemptTimeoutMs = config.stripe.timeoutMs;
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

  // Payment intents and payment methods

  /**
   * Null when Stripe does not know the payment intent. `expand: ['latest_charge']` brings its
   * receipt. `waitMs`: for a read that something else can do later, one attempt, answered
   * within that time (at most `STRIPE_TIMEOUT_MS`) or failed, not this gateway's retries.
   */
  retrievePaymentIntent(
    id: string,
    params?: Stripe.PaymentIntentRetrieveParams,
    { waitMs }: { waitMs?: number } = {},
  ): Promise<Stripe.PaymentIntent | null> {
    const attemptMs = waitMs === undefined ? undefined : Math.min(waitMs, this.attemptTimeoutMs);
    const once = attemptMs === undefined ? undefined : { timeout: attemptMs, maxNetworkRetries: 0 };
    return callStripe(attemptMs ?? this.callDeadlineMs, () =>
      this.stripe.paymentIntents.retrieve(id, params, once).catch(nullWhenMissing),
    );
  }

  /**
   * A saved card's off-session payment as Stripe has it now (`createOffSessionPaymentIntent`'s
   * answer, read again): null when Stripe does not know the PaymentIntent.
   */
  async retrieveOffSessionPayment(id: string): Promise<OffSessionPayment | null> {
    const intent = await this.retrievePaymentIntent(id, { expand: ['latest_charge'] });
    return intent && offSessionOutcome(intent);
  }

  /**
   * The customer's PaymentIntent created at or after `since` whose metadata has `key` set to
   * `value` (the newest, when several), as an off-session payment; null when there is none.
   * A list read page by page, not Stripe's search: a list reads its own writes (search lags up
   * to a minute, an hour in an outage) and every account has it (search is not offered in
   * India). The customer's payments since one instant are few.
   */
  async findOffSessionPayment(
    customer: string,
    since: Date,
    metadata: { key: string; value: string },
  ): Promise<OffSessionPayment | null> {
    const created = { gte: Math.floor(since.getTime() / 1000) };
    let startingAfter: string | undefined;
    for (;;) {
      const page = await callStripe(this.callDeadlineMs, () =>
        this.stripe.paymentIntents.list({
          customer,
          created,
          limit: 100,
          ...(startingAfter && { starting_after: startingAfter }),
        }),
      );
      const found = page.data.find((intent) => intent.metadata?.[metadata.key] === metadata.value);
      // Read again with its charge, for the receipt.
      if (found) return this.retrieveOffSessionPayment(found.id);
      if (!page.has_more || page.data.length === 0) return null;
      startingAfter = page.data[page.data.length - 1].id;
    }
  }

  /** Null when Stripe does not know the payment method. */
  retrievePaymentMethod(id: string): Promise<Stripe.PaymentMethod | null> {
    return callStripe(this.callDeadlineMs, () => this.stripe.paymentMethods.retrieve(id).catch(nullWhenMissing));
  }

  /** Makes `paymentMethod` the customer's default (`invoice_settings.default_payment_method`). */
  setDefaultPaymentMethod(customer: string, paymentMethod: string): Promise<Stripe.Customer> {
    return callStripe(this.callDeadlineMs, () =>
      this.stripe.customers.update(
        customer,
        { invoice_settings: { default_payment_method: paymentMethod } },
        { idempotencyKey: `credits-api:default-pm:${customer}:${paymentMethod}` },
      ),
    );
  }

  /**
   * Charges a saved card with no customer present (`off_session`, `confirm`). A card error of
   * any code, `authentication_required` included, is an answer about the card, not a failure
   * of the call: it comes back as `declined`, never as an exception. Anything else (Stripe
   * down, no answer in time, our key refused) throws the envelope like every other call.
   * `idempotencyKey` is the refill's own (`auto_refill:<refill id>`): a second run of the
   * same refill gets Stripe's first answer, never a second charge.
   */
  createOffSessionPaymentIntent(
    params: {
      amount: number;
      currency: string;
      customer: string;
      payment_method: string;
      metadata: Record<string, string>;
    },
    idempotencyKey: string,
  ): Promise<OffSessionPayment> {
    return callStripe(this.callDeadlineMs, async () => {
      try {
        const intent = await this.stripe.paymentIntents.create(
          { ...params, off_session: true, confirm: true, expand: ['latest_charge'] },
          { idempotencyKey },
        );
        return offSessionOutcome(intent);
      } catch (error) {
        if (error instanceof Stripe.errors.StripeCardError) {
          return {
            status: 'declined',
            paymentIntentId: error.payment_intent?.id ?? null,
            code: error.code ?? 'card_declined',
            declineCode: error.decline_code ?? null,
            message: error.message ?? 'The card was declined',
          };
        }
        throw error;
      }
    });
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
