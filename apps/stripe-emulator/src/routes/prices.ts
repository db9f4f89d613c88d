import { ok, type Route } from '../context';
import { invalidParam, missingParam, noSuch } from '../errors';
import { newId, nowSeconds } from '../ids';
import type { Price, Product } from '../objects';
import {
  currency,
  isObject,
  metadata,
  newestFirst,
  optionalBoolean,
  optionalString,
  paginate,
  rejectUnknown,
  requiredInteger,
  requiredString,
} from '../validate';
import { expandObject } from './expand';

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
const PRODUCT_PARAMS = new Set(['name', 'description', 'metadata', 'active', 'expand', 'id', 'images', 'url']);

export const priceRoutes: Route[] = [
  {
    method: 'POST',
    pattern: /^\/v1\/products$/,
    handler(ctx, req) {
      const p = req.params;
      rejectUnknown(p, PRODUCT_PARAMS);
      const product: Product = {
        id: optionalString(p, 'id') || newId('prod'),
        object: 'product',
        created: nowSeconds(),
        livemode: false,
        active: optionalBoolean(p, 'active') ?? true,
        name: requiredString(p, 'name'),
        description: optionalString(p, 'description') || null,
        metadata: metadata(p) ?? {},
      };
      ctx.store.products.set(product.id, product);
      return ok(product);
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/products\/([^/]+)$/,
    handler(ctx, _req, match) {
      const product = ctx.store.products.get(match[1]);
      if (!product) throw noSuch('product', match[1]);
      return ok(product);
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/prices$/,
    handler(ctx, req) {
      const p = req.params;
      rejectUnknown(p, PRICE_PARAMS);
      const cur = currency(p, 'currency', 'currency');
      const unitAmount = requiredInteger(p, 'unit_amount', 'unit_amount', 0, 99_999_999);
      let productId = optionalString(p, 'product');
      const productData = p.product_data;
      if (productId && productData !== undefined) {
        throw invalidParam('product', 'You may only specify one of these parameters: product, product_data.');
      }
      if (productId) {
        if (!ctx.store.products.has(productId)) throw noSuch('product', productId, 'product');
      } else if (isObject(productData)) {
        const product: Product = {
          id: newId('prod'),
          object: 'product',
          created: nowSeconds(),
          livemode: false,
          active: true,
          name: requiredString(productData, 'name', 'product_data[name]'),
          description: null,
          metadata: metadata(productData, 'metadata', 'product_data[metadata]') ?? {},
        };
        ctx.store.products.set(product.id, product);
        productId = product.id;
      } else {
        throw missingParam('product');
      }
      const price: Price = {
        id: newId('price'),
        object: 'price',
        created: nowSeconds(),
        livemode: false,
        active: optionalBoolean(p, 'active') ?? true,
        currency: cur,
        unit_amount: unitAmount,
        unit_amount_decimal: String(unitAmount),
        product: productId,
        type: 'one_time',
        billing_scheme: 'per_unit',
        lookup_key: optionalString(p, 'lookup_key') || null,
        nickname: optionalString(p, 'nickname') || null,
        recurring: null,
        tax_behavior: 'unspecified',
        metadata: metadata(p) ?? {},
      };
      ctx.store.prices.set(price.id, price);
      return ok(expandObject(ctx, price, p));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/prices$/,
    handler(ctx, req) {
      const lookupKeys = req.params.lookup_keys;
      let all = newestFirst(ctx.store.prices.values());
      if (Array.isArray(lookupKeys)) all = all.filter((price) => lookupKeys.includes(price.lookup_key ?? ''));
      const { lookup_keys: _ignored, ...rest } = req.params;
      return ok(paginate(all, rest, '/v1/prices'));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/prices\/([^/]+)$/,
    handler(ctx, req, match) {
      const price = ctx.store.prices.get(match[1]);
      if (!price) throw noSuch('price', match[1]);
      return ok(expandObject(ctx, price, req.params));
    },
  },
];
