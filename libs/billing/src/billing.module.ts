import { Module } from '@nestjs/common';
import { StripeModule } from '@credits/stripe';
import { AutoRefillSettingsService } from './auto-refill/auto-refill-settings.service';
import { AutoRefillController } from './auto-refill/auto-refill.controller';
import { CheckoutController } from './checkout/checkout.controller';
import { CheckoutStatusController } from './checkout/checkout-status.controller';
import { CheckoutStatusService } from './checkout/checkout-status.service';
import { CheckoutService } from './checkout/checkout.service';
import { StripeCustomers } from './checkout/stripe-customers';
import { CreditsController } from './credits/credits.controller';
import { CreditsService } from './credits/credits.service';
import { FulfilmentModule } from './fulfilment/fulfilment.module';
import { IdempotencyKeyRepository } from './idempotency/idempotency-key.repository';
import { IdempotencyService } from './idempotency/idempotency.service';
import { ReconciliationSchedule } from './reconciliation/reconciliation.job';
import { StripeWebhookController } from './webhook/stripe-webhook.controller';
import { StripeWebhookService } from './webhook/stripe-webhook.service';

/** Checkout, webhook fulfilment, reconciliation, the ledger and balance, idempotency, and notifications to the host. */
@Module({
  imports: [StripeModule, FulfilmentModule],
  controllers: [
    CheckoutController,
    CheckoutStatusController,
    CreditsController,
    AutoRefillController,
    StripeWebhookController,
  ],
  providers: [
    IdempotencyKeyRepository,
    CheckoutService,
    StripeCustomers,
    IdempotencyService,
    StripeWebhookService,
    CreditsService,
    CheckoutStatusService,
    ReconciliationSchedule,
    AutoRefillSettingsService,
  ],
  exports: [FulfilmentModule],
})
export class BillingModule {}
