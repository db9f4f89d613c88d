/** Stripe's PaymentMethod object (cards only). */
import type { Metadata } from '../stripe-api/params';

export interface CardDetails {
  brand: string;
  checks: { address_line1_check: null; address_postal_code_check: null; cvc_check: 'pass' | null };
  country: string;
  display_brand: string;
  exp_month: number;
  exp_year: number;
  fingerprint: string;
  funding: string;
  generated_from: null;
  last4: string;
  networks: { available: string[]; preferred: null };
  three_d_secure_usage: { supported: boolean };
  wallet: null;
  regulated_status: null;
}

export interface BillingDetails {
  address: { city: null; country: null; line1: null; line2: null; postal_code: null; state: null };
  email: string | null;
  name: string | null;
  phone: null;
  tax_id: null;
}

export interface PaymentMethod {
  id: string;
  object: 'payment_method';
  created: number;
  livemode: false;
  type: 'card';
  allow_redisplay: 'unspecified' | 'always' | 'limited';
  billing_details: BillingDetails;
  card: CardDetails;
  customer: string | null;
  metadata: Metadata;
}

export function emptyBillingDetails(email: string | null = null, name: string | null = null): BillingDetails {
  return {
    address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
    email,
    name,
    phone: null,
    tax_id: null,
  };
}
