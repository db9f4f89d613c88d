import { Module } from '@nestjs/common';
import { StripeModule } from '@credits/stripe';
import { CheckoutSessionRepository } from './checkout/checkout-session.repository';
import { CheckoutController } from './checkout/checkout.controller';
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
import { NotificationDelivery } from './notifications/notification-delivery.service';
import { NotificationEndpoints } from './notifications/notification-endpoints.service';
import { NotificationOutbox } from './notifications/notification-outbox';
import { NotificationRepository } from './notifications/notification.repository';
import { OrganizationRepository } from './organizations/organization.repository';
import { StripeWebhookController } from './webhook/stripe-webhook.controller';
import { StripeWebhookService } from './webhook/stripe-webhook.service';

/** Checkout, webhook fulfilment, the ledger and balance, idempotency, and notifications to the host. */
@Module({
  imports: [StripeModule],
  controllers: [CheckoutController, CreditsController, StripeWebhookController],
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
    NotificationRepository,
    NotificationOutbox,
    NotificationDelivery,
    NotificationEndpoints,
  ],
  exports: [LedgerService, NotificationEndpoints],
})
export class BillingModule {}
