import type { Context } from '../context';
import type { PaymentIntent } from '../payment-intents/payment-intent';
import { emptyBillingDetails, type PaymentMethod } from '../payment-methods/payment-method';
import type { CardDecline } from '../payment-methods/test-cards';
import { newId, nowSeconds } from '../stripe-api/ids';
import { approvedOutcome, type Charge } from './charge';

/** A charge for `intent` on `pm` (none for a delayed bank payment), with its receipt page. */
export function createCharge(
  ctx: Context,
  intent: PaymentIntent,
  status: Charge['status'],
  pm: PaymentMethod | null,
  decline?: CardDecline,
): Charge {
  const id = newId('ch');
  const customer = intent.customer ? ctx.store.customers.get(intent.customer) : undefined;
  const charge: Charge = {
    id,
    object: 'charge',
    created: nowSeconds(),
    livemode: false,
    amount: intent.amount,
    amount_captured: status === 'succeeded' ? intent.amount : 0,
    amount_refunded: 0,
    captured: status === 'succeeded',
    currency: intent.currency,
    customer: intent.customer,
    description: intent.description,
    metadata: { ...intent.metadata },
    paid: status === 'succeeded',
    payment_intent: intent.id,
    refunded: false,
    refunds: { object: 'list', data: [], has_more: false, total_count: 0, url: `/v1/charges/${id}/refunds` },
    status,
    balance_transaction: null,
    receipt_url: `${ctx.publicUrl}/receipts/${id}`,
    failure_code: decline ? decline.code : null,
    failure_message: decline ? decline.message : null,
    payment_method: pm?.id ?? null,
    payment_method_details: pm
      ? {
          type: 'card',
          card: {
            brand: pm.card.brand,
            checks: pm.card.checks,
            country: pm.card.country,
            exp_month: pm.card.exp_month,
            exp_year: pm.card.exp_year,
            fingerprint: pm.card.fingerprint,
            funding: pm.card.funding,
            last4: pm.card.last4,
            network: pm.card.brand,
            three_d_secure: null,
            wallet: null,
          },
        }
      : { type: intent.payment_method_types[0] ?? 'card' },
    billing_details: pm ? structuredClone(pm.billing_details) : emptyBillingDetails(customer?.email ?? null),
    outcome:
      status === 'pending'
        ? null
        : decline
          ? {
              network_status: 'declined_by_network',
              reason: decline.decline_code,
              risk_level: 'normal',
              seller_message: 'The bank did not return any further details with this decline.',
              type: 'issuer_declined',
            }
          : approvedOutcome(),
    receipt_email: intent.receipt_email,
    receipt_number: null,
    disputed: false,
  };
  ctx.store.charges.set(id, charge);
  intent.latest_charge = id;
  return charge;
}
