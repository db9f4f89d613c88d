/** The Stripe objects the emulator keeps, shaped like Stripe's JSON. */
import { newId, nowSeconds, randomBase62 } from './stripe-api/ids';

export type Metadata = Record<string, string>;

export interface Customer {
  id: string;
  object: 'customer';
  created: number;
  livemode: false;
  name: string | null;
  email: string | null;
  description: string | null;
  phone: string | null;
  metadata: Metadata;
  balance: number;
  currency: string | null;
  default_source: null;
  delinquent: boolean;
  invoice_prefix: string;
  preferred_locales: string[];
  tax_exempt: 'none';
  invoice_settings: {
    custom_fields: null;
    default_payment_method: string | null;
    footer: null;
    rendering_options: null;
  };
}

/** A new customer as Stripe creates it: the given fields, every other one at Stripe's default. */
export function newCustomer(fields: Pick<Customer, 'name' | 'email' | 'description' | 'phone' | 'metadata'>): Customer {
  return {
    id: newId('cus'),
    object: 'customer',
    created: nowSeconds(),
    livemode: false,
    ...fields,
    balance: 0,
    currency: null,
    default_source: null,
    delinquent: false,
    invoice_prefix: randomBase62(8).toUpperCase(),
    preferred_locales: [],
    tax_exempt: 'none',
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
  };
}

export interface Product {
  id: string;
  object: 'product';
  created: number;
  livemode: false;
  active: boolean;
  name: string;
  description: string | null;
  metadata: Metadata;
}

export interface Price {
  id: string;
  object: 'price';
  created: number;
  livemode: false;
  active: boolean;
  currency: string;
  unit_amount: number;
  unit_amount_decimal: string;
  product: string;
  type: 'one_time';
  billing_scheme: 'per_unit';
  lookup_key: string | null;
  nickname: string | null;
  recurring: null;
  tax_behavior: 'unspecified';
  metadata: Metadata;
}

/** A new, active product (`product_data` of a price or of a line item's `price_data`). */
export function newProduct(fields: Pick<Product, 'name' | 'description' | 'metadata'>): Product {
  return {
    id: newId('prod'),
    object: 'product',
    created: nowSeconds(),
    livemode: false,
    active: true,
    name: fields.name,
    description: fields.description,
    metadata: fields.metadata,
  };
}

/** A new one-time, per-unit price of `unit_amount` (the emulator keeps no decimal amounts). */
export function newPrice(
  fields: Pick<Price, 'active' | 'currency' | 'unit_amount' | 'product' | 'lookup_key' | 'nickname' | 'metadata'>,
): Price {
  return {
    id: newId('price'),
    object: 'price',
    created: nowSeconds(),
    livemode: false,
    active: fields.active,
    currency: fields.currency,
    unit_amount: fields.unit_amount,
    unit_amount_decimal: String(fields.unit_amount),
    product: fields.product,
    type: 'one_time',
    billing_scheme: 'per_unit',
    lookup_key: fields.lookup_key,
    nickname: fields.nickname,
    recurring: null,
    tax_behavior: 'unspecified',
    metadata: fields.metadata,
  };
}

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

export interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  created: number;
  livemode: false;
  amount: number;
  amount_capturable: number;
  amount_received: number;
  currency: string;
  customer: string | null;
  description: string | null;
  latest_charge: string | null;
  metadata: Metadata;
  payment_method_types: string[];
  status:
    'processing' | 'succeeded' | 'requires_payment_method' | 'requires_confirmation' | 'requires_action' | 'canceled';
  capture_method: 'automatic';
  confirmation_method: 'automatic';
  client_secret: string;
  payment_method: string | null;
  setup_future_usage: 'off_session' | 'on_session' | null;
  last_payment_error: PaymentError | null;
  next_action: { type: 'use_stripe_sdk'; use_stripe_sdk: Record<string, unknown> } | null;
  canceled_at: number | null;
  cancellation_reason: null;
  receipt_email: string | null;
  statement_descriptor: null;
  statement_descriptor_suffix: null;
  processing: null;
}

/** A card error as Stripe puts it in `last_payment_error` and in a 402's `error`. */
export interface PaymentError {
  type: 'card_error';
  code: string;
  decline_code: string;
  message: string;
  param?: string;
  doc_url: string;
  charge?: string;
  payment_method?: PaymentMethod;
}

/** A PaymentIntent as Stripe creates it before confirmation; `fields` fill in the rest. */
export function newPaymentIntent(
  fields: Pick<
    PaymentIntent,
    'amount' | 'currency' | 'customer' | 'description' | 'metadata' | 'payment_method_types'
  > &
    Partial<PaymentIntent>,
): PaymentIntent {
  const id = newId('pi');
  return {
    id,
    object: 'payment_intent',
    created: nowSeconds(),
    livemode: false,
    amount_capturable: 0,
    amount_received: 0,
    latest_charge: null,
    status: 'requires_payment_method',
    capture_method: 'automatic',
    confirmation_method: 'automatic',
    client_secret: `${id}_secret_${randomBase62(25)}`,
    payment_method: null,
    setup_future_usage: null,
    last_payment_error: null,
    next_action: null,
    canceled_at: null,
    cancellation_reason: null,
    receipt_email: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    processing: null,
    ...fields,
  };
}

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

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  type: string;
  data: { object: unknown; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
}
