import { ok, type ApiHandler } from '../context';
import { MAX_AMOUNT } from '../stripe-api/currencies';
import { expandObject } from '../stripe-api/expand';
import { newestFirst, paginate } from '../stripe-api/lists';
import {
  currency,
  isObject,
  metadata,
  optionalBoolean,
  optionalString,
  rejectUnknown,
  requiredInteger,
  requiredString,
} from '../stripe-api/params';
import { invalidParam, missingParam, noSuch } from '../stripe-api/stripe-errors';
import { newPrice, newProduct } from './price';

const PRICE_PARAMS = new Set([
  'currency',
  'unit_amount',
  'product',
  'product_data',
  'metadata',
  'nickname',
  'lookup_key',
  'active',
  'expand',
  'tax_behavior',
  'billing_scheme',
  'transfer_lookup_key',
]);
export const createPrice: ApiHandler = (ctx, req) => {
  const p = req.params;
  rejectUnknown(p, PRICE_PARAMS);
  const cur = currency(p, 'currency', 'currency');
  const unitAmount = requiredInteger(p, 'unit_amount', 'unit_amount', 0, MAX_AMOUNT);
  let productId = optionalString(p, 'product');
  const productData = p.product_data;
  if (productId && productData !== undefined) {
    throw invalidParam('product', 'You may only specify one of these parameters: product, product_data.');
  }
  if (productId) {
    if (!ctx.store.products.has(productId)) throw noSuch('product', productId, 'product');
  } else if (isObject(productData)) {
    const product = newProduct({
      name: requiredString(productData, 'name', 'product_data[name]'),
      description: null,
      metadata: metadata(productData, 'metadata', 'product_data[metadata]') ?? {},
    });
    ctx.store.products.set(product.id, product);
    productId = product.id;
  } else {
    throw missingParam('product');
  }
  const price = newPrice({
    active: optionalBoolean(p, 'active') ?? true,
    currency: cur,
    unit_amount: unitAmount,
    product: productId,
    lookup_key: optionalString(p, 'lookup_key') || null,
    nickname: optionalString(p, 'nickname') || null,
    metadata: metadata(p) ?? {},
  });
  ctx.store.prices.set(price.id, price);
  return ok(expandObject(ctx, price, p));
};

export const listPrices: ApiHandler = (ctx, req) => {
  const lookupKeys = req.params.lookup_keys;
  let all = newestFirst(ctx.store.prices.values());
  if (Array.isArray(lookupKeys)) all = all.filter((price) => lookupKeys.includes(price.lookup_key ?? ''));
  const { lookup_keys: _ignored, ...rest } = req.params;
  return ok(paginate(all, rest, '/v1/prices'));
};
