/** Stripe's PaymentIntent object and the card error it carries. */
import type { PaymentMethod } from '../payment-methods/payment-method';
import { newId, nowSeconds, randomBase62 } from '../stripe-api/ids';
import type { Metadata } from '../stripe-api/params';

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
