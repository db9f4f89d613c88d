/** Stripe's Charge object and the refunds listed in it. */
import type { BillingDetails } from '../payment-methods/payment-method';
import type { Metadata } from '../stripe-api/params';

export interface Refund {
  id: string;
  object: 'refund';
  created: number;
  amount: number;
  charge: string;
  currency: string;
  payment_intent: string | null;
  reason: string | null;
  status: 'succeeded';
  metadata: Metadata;
  balance_transaction: null;
}

export interface Charge {
  id: string;
  object: 'charge';
  created: number;
  livemode: false;
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  captured: boolean;
  currency: string;
  customer: string | null;
  description: string | null;
  metadata: Metadata;
  paid: boolean;
  payment_intent: string | null;
  refunded: boolean;
  refunds: { object: 'list'; data: Refund[]; has_more: false; total_count: number; url: string };
  status: 'pending' | 'succeeded' | 'failed';
  balance_transaction: null;
  receipt_url: string | null;
  failure_code: string | null;
  failure_message: string | null;
  payment_method: string | null;
  payment_method_details: { type: 'card'; card: Record<string, unknown> } | { type: string } | null;
  billing_details: BillingDetails;
  outcome: {
    network_status: string;
    reason: string | null;
    risk_level: 'normal';
    seller_message: string;
    type: 'authorized' | 'issuer_declined';
  } | null;
  receipt_email: string | null;
  receipt_number: null;
  disputed: false;
}

/** A charge's `outcome` once the issuer approved it. */
export function approvedOutcome(): NonNullable<Charge['outcome']> {
  return {
    network_status: 'approved_by_network',
    reason: null,
    risk_level: 'normal',
    seller_message: 'Payment complete.',
    type: 'authorized',
  };
}
