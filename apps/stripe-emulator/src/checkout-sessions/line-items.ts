import type { Context } from '../context';
import { newPrice, newProduct, type Price, type Product } from '../prices/price';
import { MAX_AMOUNT } from '../stripe-api/currencies';
import type { FormObject, FormValue } from '../stripe-api/form-encoding';
import { newId } from '../stripe-api/ids';
import {
  currency,
  isObject,
  metadata,
  optionalString,
  rejectUnknown,
  requiredInteger,
  requiredString,
} from '../stripe-api/params';
import { invalidParam, invalidRequest, missingParam, noSuch } from '../stripe-api/stripe-errors';
import type { LineItem } from './checkout-session';

const LINE_ITEM_PARAMS = new Set([
  'price',
  'price_data',
  'quantity',
  'adjustable_quantity',
  'dynamic_tax_rates',
  'tax_rates',
  'metadata',
]);
const PRICE_DATA_PARAMS = new Set([
  'currency',
  'unit_amount',
  'unit_amount_decimal',
  'product',
  'product_data',
  'tax_behavior',
  'recurring',
]);
const PRODUCT_DATA_PARAMS = new Set(['name', 'description', 'images', 'metadata', 'tax_code', 'unit_label']);

/** What a session's `line_items` make. */
export interface BuiltLineItems {
  items: LineItem[];
  /** Created for `price_data`; stored only once the whole request is valid. */
  products: Product[];
  prices: Price[];
}

/** An item's price and the description Checkout shows for it. */
interface PricedItem {
  price: Price;
  description: string;
}

/** `line_items`, validated item by item as Stripe does: the first invalid field is the one reported. */
export function buildLineItems(ctx: Context, p: FormObject): BuiltLineItems {
  const built: BuiltLineItems = { items: [], products: [], prices: [] };
  lineItemsParam(p).forEach((item, i) => built.items.push(lineItem(ctx, item, `line_items[${i}]`, built)));
  return built;
}

function lineItemsParam(p: FormObject): FormValue[] {
  const raw = p.line_items;
  if (raw === undefined || raw === '') throw missingParam('line_items');
  if (!Array.isArray(raw) || raw.length === 0) {
    throw invalidParam('line_items', 'Invalid array: line_items must be a non-empty list.', 'parameter_invalid_array');
  }
  return raw;
}

function lineItem(ctx: Context, item: FormValue, name: string, built: BuiltLineItems): LineItem {
  if (!isObject(item)) throw missingParam(`${name}[quantity]`);
  rejectUnknown(item, LINE_ITEM_PARAMS, name);
  const quantity = requiredInteger(item, 'quantity', `${name}[quantity]`, 1, 999_999);
  const { price, description } = itemPrice(ctx, item, name, built);
  if (built.items.length > 0 && built.items[0].currency !== price.currency) {
    throw invalidParam(`${name}[price]`, 'All line items must have the same currency.');
  }
  const amount = price.unit_amount * quantity;
  return {
    id: newId('li'),
    object: 'item',
    amount_discount: 0,
    amount_subtotal: amount,
    amount_tax: 0,
    amount_total: amount,
    currency: price.currency,
    description,
    quantity,
    price,
  };
}

/** Exactly one of `price` (a stored, active price) and `price_data` (a price made for this session). */
function itemPrice(ctx: Context, item: FormObject, name: string, built: BuiltLineItems): PricedItem {
  const priceId = optionalString(item, 'price', `${name}[price]`);
  const priceData = item.price_data;
  if (priceId && priceData !== undefined) {
    throw invalidParam(`${name}[price]`, 'You may only specify one of these parameters: price, price_data.');
  }
  if (priceId) return storedPrice(ctx, priceId, `${name}[price]`);
  if (priceData !== undefined) return priceFromData(ctx, priceData, `${name}[price_data]`, built);
  throw invalidRequest(
    `You must specify either \`price\` or \`price_data\` in ${name}.`,
    `${name}[price]`,
    'parameter_missing',
  );
}

function storedPrice(ctx: Context, priceId: string, param: string): PricedItem {
  const price = ctx.store.prices.get(priceId);
  if (!price) throw noSuch('price', priceId, param);
  if (!price.active)
    throw invalidParam(param, `The price specified is inactive. This field only accepts active prices.`);
  return { price, description: ctx.store.products.get(price.product)?.name ?? price.nickname ?? '' };
}

/** A one-time price made for the session (inactive, as Stripe makes it), for a product given or made. */
function priceFromData(ctx: Context, priceData: FormValue, pd: string, built: BuiltLineItems): PricedItem {
  if (!isObject(priceData)) throw invalidParam(pd, `Invalid object: ${pd} must be a hash.`, 'parameter_invalid_object');
  rejectUnknown(priceData, PRICE_DATA_PARAMS, pd);
  if (priceData.recurring !== undefined) {
    throw invalidParam(
      `${pd}[recurring]`,
      'You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.',
    );
  }
  const cur = currency(priceData, 'currency', `${pd}[currency]`);
  const unitAmount = requiredInteger(priceData, 'unit_amount', `${pd}[unit_amount]`, 0, MAX_AMOUNT);
  const product = priceDataProduct(ctx, priceData, pd, built);
  const price = newPrice({
    active: false,
    currency: cur,
    unit_amount: unitAmount,
    product: product.id,
    lookup_key: null,
    nickname: null,
    metadata: {},
  });
  built.prices.push(price);
  return { price, description: product.name };
}

/** Exactly one of `price_data[product]` (a stored product) and `price_data[product_data]` (a new one). */
function priceDataProduct(ctx: Context, priceData: FormObject, pd: string, built: BuiltLineItems): Product {
  const productId = optionalString(priceData, 'product', `${pd}[product]`);
  const productData = priceData.product_data;
  if (productId && productData !== undefined) {
    throw invalidParam(`${pd}[product]`, 'You may only specify one of these parameters: product, product_data.');
  }
  if (productId) {
    const found = ctx.store.products.get(productId);
    if (!found) throw noSuch('product', productId, `${pd}[product]`);
    return found;
  }
  const pdd = `${pd}[product_data]`;
  if (productData === undefined) throw missingParam(pdd);
  if (!isObject(productData))
    throw invalidParam(pdd, `Invalid object: ${pdd} must be a hash.`, 'parameter_invalid_object');
  rejectUnknown(productData, PRODUCT_DATA_PARAMS, pdd);
  const product = newProduct({
    name: requiredString(productData, 'name', `${pdd}[name]`, 250),
    description: optionalString(productData, 'description', `${pdd}[description]`) || null,
    metadata: metadata(productData, 'metadata', `${pdd}[metadata]`) ?? {},
  });
  built.products.push(product);
  return product;
}
