import { Injectable } from '@nestjs/common';
import { StripeGateway } from '@credits/stripe';
import { NotFoundError } from '@credits/errors';
import { FulfilmentService } from '../fulfilment/fulfilment.service';
import { purchasePaymentExpand } from '../fulfilment/purchase-payment';
import { CheckoutSessionRepository, CheckoutSessionRow } from './checkout-session.repository';
import { CheckoutSessionStatusResponse } from './checkout-status.dto';

/**
 * The success page's question, "did my purchase go through?", answered without waiting for
 * the webhook (Stripe's advice): a record not yet settled is checked with Stripe, and a paid
 * session is granted now through the webhook's own exactly-once path.
 */
@Injectable()
export class CheckoutStatusService {
  constructor(
    private readonly sessions: CheckoutSessionRepository,
    private readonly stripe: StripeGateway,
    private readonly fulfilment: FulfilmentService,
  ) {}

  async status(orgId: string, sessionId: string): Promise<CheckoutSessionStatusResponse> {
    // Stripe is asked only about the org's own sessions: an unknown id and another org's
    // answer the same 404, with no call that could tell them apart.
    const row = await this.sessions.find(orgId, sessionId);
    if (!row) throw new NotFoundError('Checkout session not found');
    if (!isSettled(row)) {
      // The receipt (and a card to keep) come with the session, in the same call: the grant writes them.
      const session = await this.stripe.retrieveCheckoutSession(sessionId, {
        expand: purchasePaymentExpand(row.savePaymentMethod),
      });
      if (session && session.status !== 'open') {
        await this.fulfilment.settle(session);
        return present((await this.sessions.find(orgId, sessionId)) ?? row);
      }
    }
    return present(row);
  }
}

/** Nothing Stripe says can change it any more (a refund does not change the purchase's state). */
function isSettled(row: CheckoutSessionRow): boolean {
  return row.fulfilledAt !== null || row.status === 'expired' || row.status === 'failed';
}

function present(row: CheckoutSessionRow): CheckoutSessionStatusResponse {
  return {
    session_id: row.id,
    status: row.status,
    payment_status: row.paymentStatus,
    credits: row.credits,
    fulfilled: row.fulfilledAt !== null,
    expires_at: row.expiresAt?.toISOString() ?? null,
  };
}
