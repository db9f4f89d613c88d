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
import { BalanceRepository } from './credits/balance.repository';
import { CreditsService } from './credits/credits.service';
import { FulfilmentModule } from './fulfilment/fulfilment.module';
import { GrantExpirySchedule } from './grants/grant-expiry.job';
import { GrantsController } from './grants/grants.controller';
import { GrantsService } from './grants/grants.service';
import { HoldExpirySchedule } from './holds/hold-expiry.job';
import { HoldsController } from './holds/holds.controller';
import { HoldsRepository } from './holds/holds.repository';
import { HoldsService } from './holds/holds.service';
import { IdempotencyKeyRepository } from './idempotency/idempotency-key.repository';
import { IdempotencyService } from './idempotency/idempotency.service';
import { ReconciliationSchedule } from './reconciliation/reconciliation.job';
import { RetentionSchedule } from './retention/retention.job';
import { RetentionRepository } from './retention/retention.repository';
import { DebitGroupCommit } from './usage/debit-group-commit';
import { UsageController } from './usage/usage.controller';
import { UsageRepository } from './usage/usage.repository';
import { UsageService } from './usage/usage.service';
import { StripeWebhookController } from './webhook/stripe-webhook.controller';
import { StripeWebhookService } from './webhook/stripe-webhook.service';

/** Checkout, webhook fulfilment, usage debits, reconciliation, the ledger and balance, holds, idempotency, and notifications to the host. */
@Module({
  imports: [StripeModule, FulfilmentModule],
  controllers: [
    CheckoutController,
    CheckoutStatusController,
    CreditsController,
    GrantsController,
    UsageController,
    AutoRefillController,
    HoldsController,
    StripeWebhookController,
  ],
  providers: [
    IdempotencyKeyRepository,
    CheckoutService,
    StripeCustomers,
    IdempotencyService,
    StripeWebhookService,
    CreditsService,
    BalanceRepository,
    CheckoutStatusService,
    ReconciliationSchedule,
    UsageRepository,
    UsageService,
    DebitGroupCommit,
    AutoRefillSettingsService,
    HoldsRepository,
    HoldsService,
    HoldExpirySchedule,
    GrantsService,
    GrantExpirySchedule,
    RetentionRepository,
    RetentionSchedule,
  ],
  exports: [FulfilmentModule],
})
export class BillingModule {}
