import { Module } from '@nestjs/common';
import { StripeModule } from '@credits/stripe';
import { CheckoutController } from './checkout/checkout.controller';
import { CheckoutService } from './checkout/checkout.service';
import { StripeCustomers } from './checkout/stripe-customers';
import { CreditsController } from './credits/credits.controller';
import { CreditsService } from './credits/credits.service';
import { FulfilmentService } from './fulfilment/fulfilment.service';
import { IdempotencyService } from './idempotency/idempotency.service';
import { LedgerService } from './ledger/ledger.service';
import { StripeWebhookController } from './webhook/stripe-webhook.controller';
import { StripeWebhookService } from './webhook/stripe-webhook.service';

/** Checkout, webhook fulfilment, the ledger and balance, and idempotency. */
@Module({
  imports: [StripeModule],
  controllers: [CheckoutController, CreditsController, StripeWebhookController],
  providers: [
    CheckoutService,
    StripeCustomers,
    IdempotencyService,
    LedgerService,
    FulfilmentService,
    StripeWebhookService,
    CreditsService,
  ],
  exports: [LedgerService],
})
export class BillingModule {}
