/** Stripe's Customer object: its shape and how Stripe fills in a new one. */
import { newId, nowSeconds, randomBase62 } from '../stripe-api/ids';
import type { Metadata } from '../stripe-api/params';

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
