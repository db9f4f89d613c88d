/** Stripe's Price and Product objects: one-time, per-unit prices and the products they sell. */
import { newId, nowSeconds } from '../stripe-api/ids';
import type { Metadata } from '../stripe-api/params';

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
