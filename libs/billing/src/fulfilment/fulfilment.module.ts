import { Module } from '@nestjs/common';
import { StripeModule } from '@credits/stripe';
import { OrganizationsRepository } from '@credits/auth/directory/organizations.repository';
import { AFTER_DEBIT } from '../auto-refill/after-debit';
import { AutoRefillPayments } from '../auto-refill/auto-refill-payments';
import { AutoRefillRepository } from '../auto-refill/auto-refill.repository';
import { AutoRefillTrigger } from '../auto-refill/auto-refill.trigger';
import { CheckoutSessionRepository } from '../checkout/checkout-session.repository';
import { GrantSettlement } from '../grants/grant-settlement';
import { GrantsRepository } from '../grants/grants.repository';
import { AdminAdjustments } from '../ledger/admin-adjustments';
import { LedgerRepository } from '../ledger/ledger.repository';
import { LedgerService } from '../ledger/ledger.service';
import { NotificationDelivery } from '../notifications/notification-delivery.service';
import { NotificationEndpoints } from '../notifications/notification-endpoints.service';
import { NotificationOutbox } from '../notifications/notification-outbox';
import { NotificationRepository } from '../notifications/notification.repository';
import { LedgerAuditRepository } from '../reconciliation/ledger-audit.repository';
import { LedgerAuditService } from '../reconciliation/ledger-audit.service';
import { ReconciliationService } from '../reconciliation/reconciliation.service';
import { CheckoutSessionSource } from './checkout-session-source';
import { FulfilmentService } from './fulfilment.service';
import { PurchaseEvents } from './purchase-events';
import { PurchasePaymentSource } from './purchase-payment';
import { StripeEventRepository } from './stripe-event.repository';

const EXPORTED = [
  CheckoutSessionRepository,
  LedgerRepository,
  LedgerService,
  // Every credit is a grant; every writer settles what of them expired before its own entries.
  GrantsRepository,
  GrantSettlement,
  AdminAdjustments,
  OrganizationsRepository,
  FulfilmentService,
  ReconciliationService,
  LedgerAuditService,
  // The ledger writes its events to the outbox in its own transactions; the CLI manages endpoints.
  NotificationRepository,
  NotificationOutbox,
  NotificationDelivery,
  NotificationEndpoints,
  // Auto-refill: its settings, the trigger every debit calls, the charge job and its events.
  AutoRefillRepository,
  AutoRefillTrigger,
  AutoRefillPayments,
];

/**
 * Granting purchases exactly once, whoever learns of the payment (the webhook, the success
 * page, reconciliation), the notifications each ledger entry causes, and auditing the ledger. No controllers and no guards: the admin
 * CLI runs it without the HTTP stack.
 */
@Module({
  imports: [StripeModule],
  providers: [
    ...EXPORTED,
    { provide: AFTER_DEBIT, useExisting: AutoRefillTrigger },
    StripeEventRepository,
    CheckoutSessionSource,
    PurchaseEvents,
    PurchasePaymentSource,
    LedgerAuditRepository,
  ],
  // The auto-refill hook too: usage's group commit and holds lower the available balance.
  exports: [...EXPORTED, AFTER_DEBIT],
})
export class FulfilmentModule {}
