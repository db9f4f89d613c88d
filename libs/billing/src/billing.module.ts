import { Module } from '@nestjs/common';
import { StripeModule } from '@credits/stripe';
import { CheckoutSessionRepository } from './checkout/checkout-session.repository';
import { CheckoutController } from './checkout/checkout.controller';
import { CheckoutStatusController } from './checkout/checkout-status.controller';
import { CheckoutStatusService } from './checkout/checkout-status.service';
import { CheckoutService } from './checkout/checkout.service';
import { StripeCustomers } from './checkout/stripe-customers';
import { CreditsController } from './credits/credits.controller';
import { CreditsService } from './credits/credits.service';
import { CheckoutSessionSource } from './fulfilment/checkout-session-source';
import { FulfilmentService } from './fulfilment/fulfilment.service';
import { PurchaseEvents } from './fulfilment/purchase-events';
import { StripeEventRepository } from './fulfilment/stripe-event.repository';
import { IdempotencyKeyRepository } from './idempotency/idempotency-key.repository';
import { IdempotencyService } from './idempotency/idempotency.service';
import { LedgerRepository } from './ledger/ledger.repository';
import { LedgerService } from './ledger/ledger.service';
import { OrganizationRepository } from './organizations/organization.repository';
import { LedgerAuditRepository } from './reconciliation/ledger-audit.repository';
import { ReconciliationSchedule } from './reconciliation/reconciliation.job';
import { ReconciliationService } from './reconciliation/reconciliation.service';
import { StripeWebhookController } from './webhook/stripe-webhook.controller';
import { StripeWebhookService } from './webhook/stripe-webhook.service';

/** Checkout, webhook fulfilment, reconciliation, the ledger and balance, and idempotency. */
@Module({
  imports: [StripeModule],
  controllers: [CheckoutController, CheckoutStatusController, CreditsController, StripeWebhookController],
  providers: [
    CheckoutSessionRepository,
    IdempotencyKeyRepository,
    LedgerRepository,
    OrganizationRepository,
    StripeEventRepository,
    CheckoutService,
    StripeCustomers,
    IdempotencyService,
    LedgerService,
    CheckoutSessionSource,
    PurchaseEvents,
    FulfilmentService,
    StripeWebhookService,
    CreditsService,
    CheckoutStatusService,
    ReconciliationService,
    ReconciliationSchedule,
    LedgerAuditRepository,
  ],
  exports: [LedgerService, ReconciliationService, ReconciliationSchedule, LedgerAuditRepository],
})
export class BillingModule {}
