import { Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '@credits/config';
import { InvalidRequestError, InvalidSignatureError, ServiceUnavailableError } from '@credits/errors';
import { StripeGateway } from '@credits/stripe';
import { EventOutcome, FulfilmentService } from '../fulfilment/fulfilment.service';

@Injectable()
export class StripeWebhookService {
  constructor(
    private readonly stripe: StripeGateway,
    @InjectConfig() private readonly config: AppConfig,
    private readonly fulfilment: FulfilmentService,
  ) {}

  async receive(rawBody: Buffer | undefined, signature: string | undefined): Promise<EventOutcome> {
    const secret = this.config.stripe.webhookSecret;
    if (!secret) throw new ServiceUnavailableError('Webhooks are not configured (STRIPE_WEBHOOK_SECRET)');
    if (!signature) throw new InvalidSignatureError('Missing Stripe-Signature header');
    if (!rawBody) throw new InvalidRequestError('Missing request body');
    return this.fulfilment.handle(this.stripe.constructEvent(rawBody, signature, secret));
  }
}
