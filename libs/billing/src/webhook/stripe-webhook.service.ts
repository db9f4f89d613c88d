import { Injectable } from '@nestjs/common';
import Stripe from 'stripe';
import { InjectConfig, type AppConfig } from '@credits/config';
import { InvalidRequestError, InvalidSignatureError, ServiceUnavailableError } from '@credits/errors';
import { InjectStripe } from '@credits/stripe';
import { EventOutcome, FulfilmentService } from '../fulfilment/fulfilment.service';

/** Stripe's own default: a signature older than this is a replay. */
export const SIGNATURE_TOLERANCE_SEC = 300;

@Injectable()
export class StripeWebhookService {
  constructor(
    @InjectStripe() private readonly stripe: Stripe,
    @InjectConfig() private readonly config: AppConfig,
    private readonly fulfilment: FulfilmentService,
  ) {}

  async receive(rawBody: Buffer | undefined, signature: string | undefined): Promise<EventOutcome> {
    const secret = this.config.stripe.webhookSecret;
    if (!secret) throw new ServiceUnavailableError('Webhooks are not configured (STRIPE_WEBHOOK_SECRET)');
    if (!signature) throw new InvalidSignatureError('Missing Stripe-Signature header');
    if (!rawBody) throw new InvalidRequestError('Missing request body');
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(rawBody, signature, secret, SIGNATURE_TOLERANCE_SEC);
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
    return this.fulfilment.handle(event);
  }
}
