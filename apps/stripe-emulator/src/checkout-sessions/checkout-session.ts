/** Stripe's Checkout Session and its line items, and what the emulator keeps beside a session. */
import type { Price } from '../prices/price';
import type { Metadata } from '../stripe-api/params';

export interface LineItem {
  id: string;
  object: 'item';
  amount_discount: number;
  amount_subtotal: number;
  amount_tax: number;
  amount_total: number;
  currency: string;
  description: string;
  quantity: number;
  price: Price;
}

export type SessionStatus = 'open' | 'complete' | 'expired';
export type PaymentStatus = 'paid' | 'unpaid' | 'no_payment_required';

export interface CheckoutSession {
  id: string;
  object: 'checkout.session';
  created: number;
  livemode: false;
  mode: 'payment';
  status: SessionStatus;
  payment_status: PaymentStatus;
  url: string | null;
  success_url: string;
  cancel_url: string | null;
  amount_subtotal: number;
  amount_total: number;
  currency: string;
  customer: string | null;
  customer_email: string | null;
  customer_creation: 'always' | 'if_required' | null;
  customer_details: {
    email: string | null;
    name: string | null;
    phone: null;
    address: null;
    tax_exempt: 'none';
    tax_ids: never[];
  } | null;
  client_reference_id: string | null;
  client_secret: null;
  metadata: Metadata;
  expires_at: number;
  payment_intent: string | null;
  payment_link: null;
  payment_method_types: string[];
  locale: string | null;
  submit_type: string | null;
  ui_mode: 'hosted';
  allow_promotion_codes: boolean | null;
  invoice: null;
  subscription: null;
  setup_intent: null;
  total_details: { amount_discount: number; amount_shipping: number; amount_tax: number };
  automatic_tax: { enabled: boolean; liability: null; status: null };
}

/** What a session's page, payment and events need that its Stripe object does not show. */
export interface SessionExtras {
  lineItems: LineItem[];
  /** Metadata for the payment intent and charge (`payment_intent_data[metadata]`). */
  paymentIntentMetadata: Record<string, string>;
  paymentIntentDescription: string | null;
  /** `Stripe-Version` of the request that created the session, for its events. */
  apiVersion: string;
  /** `payment_intent_data[setup_future_usage]`: paying saves the card to the customer. */
  setupFutureUsage: 'off_session' | 'on_session' | null;
}
