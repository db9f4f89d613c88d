import { Module } from '@nestjs/common';
import { StripeModule } from '@credits/stripe';
import { CheckoutSessionRepository } from '../checkout/checkout-session.repository';
import { LedgerRepository } from '../ledger/ledger.repository';
import { LedgerService } from '../ledger/ledger.service';
import { OrganizationRepository } from '../organizations/organization.repository';
import { LedgerAuditRepository } from '../reconciliation/ledger-audit.repository';
import { LedgerAuditService } from '../reconciliation/ledger-audit.service';
import { ReconciliationService } from '../reconciliation/reconciliation.service';
import { CheckoutSessionSource } from './checkout-session-source';
import { FulfilmentService } from './fulfilment.service';
import { PurchaseEvents } from './purchase-events';
import { StripeEventRepository } from './stripe-event.repository';

const EXPORTED = [
  CheckoutSessionRepository,
  LedgerRepository,
  LedgerService,
  OrganizationRepository,
  FulfilmentService,
  ReconciliationService,
  LedgerAuditService,
];

/**
 * Granting purchases exactly once, whoever learns of the payment (the webhook, the success
 * page, reconciliation), and auditing the ledger. No controllers and no guards: the admin
 * CLI runs it without the HTTP stack.
 */
@Module({
  imports: [StripeModule],
  providers: [...EXPORTED, StripeEventRepository, CheckoutSessionSource, PurchaseEvents, LedgerAuditRepository],
  exports: EXPORTED,
})
export class FulfilmentModule {}
