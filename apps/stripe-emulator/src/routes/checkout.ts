import { ok, type ApiRequest, type Context, type Route } from '../context';
import { invalidParam, invalidRequest, missingParam, noSuch, StripeHttpError } from '../errors';
import { expireIfDue, expireSession, FlowError } from '../flows';
import type { FormObject } from '../form';
import { newId, nowSeconds } from '../ids';
import type { CheckoutSession, LineItem, Price, Product } from '../objects';
import { minimumChargeAmount } from '../money';
import {
  absoluteUrl,
  currency,
  isObject,
  metadata,
  newestFirst,
  optionalBoolean,
  optionalInteger,
  optionalString,
  paginate,
  rejectUnknown,
  requiredInteger,
  requiredString,
} from '../validate';
import { expandObject } from './expand';

/** Every top-level parameter Stripe documents for Checkout Session creation; others are rejected. */
const SESSION_PARAMS = new Set([
  'adaptive_pricing',
  'after_expiration',
  'allow_promotion_codes',
  'automatic_tax',
  'billing_address_collection',
  'branding_settings',
  'cancel_url',
  'client_reference_id',
  'consent_collection',
  'currency',
  'custom_fields',
  'custom_text',
  'customer',
  'customer_account',
  'customer_creation',
  'customer_email',
  'customer_update',
  'discounts',
  'excluded_payment_method_types',
  'expand',
  'expires_at',
  'invoice_creation',
  'line_items',
  'locale',
  'metadata',
  'mode',
  'name_collection',
  'optional_items',
  'origin_context',
  'payment_intent_data',
  'payment_method_collection',
  'payment_method_configuration',
  'payment_method_data',
  'payment_method_options',
  'payment_method_types',
  'permissions',
  'phone_number_collection',
  'redirect_on_completion',
  'return_url',
  'saved_payment_method_options',
  'setup_intent_data',
  'shipping_address_collection',
  'shipping_options',
  'submit_type',
  'subscription_data',
  'success_url',
  'tax_id_collection',
  'ui_mode',
  'wallet_options',
]);
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
const PI_DATA_PARAMS = new Set([
  'metadata',
  'description',
  'capture_method',
  'receipt_email',
  'setup_future_usage',
  'statement_descriptor',
  'statement_descriptor_suffix',
  'shipping',
  'application_fee_amount',
  'on_behalf_of',
  'transfer_data',
  'transfer_group',
]);
const LOCALES = /^(auto|[a-z]{2}(-[A-Z0-9]{2,3})?)$/;
const MAX_AMOUNT = 99_999_999;

interface BuiltLineItems {
  items: LineItem[];
  /** Created for `price_data`; stored only once the whole request is valid. */
  products: Product[];
  prices: Price[];
}

function buildLineItems(ctx: Context, p: FormObject): BuiltLineItems {
  const raw = p.line_items;
  if (raw === undefined || raw === '') throw missingParam('line_items');
  if (!Array.isArray(raw) || raw.length === 0) {
    throw invalidParam('line_items', 'Invalid array: line_items must be a non-empty list.', 'parameter_invalid_array');
  }
  const items: LineItem[] = [];
  const products: Product[] = [];
  const prices: Price[] = [];
  for (let i = 0; i < raw.length; i++) {
    const name = `line_items[${i}]`;
    const item = raw[i];
    if (!isObject(item)) throw missingParam(`${name}[quantity]`);
    rejectUnknown(item, LINE_ITEM_PARAMS, name);
    const quantity = requiredInteger(item, 'quantity', `${name}[quantity]`, 1, 999_999);
    const priceId = optionalString(item, 'price', `${name}[price]`);
    const priceData = item.price_data;
    let price: Price;
    let description: string;
    if (priceId && priceData !== undefined) {
      throw invalidParam(`${name}[price]`, 'You may only specify one of these parameters: price, price_data.');
    }
    if (priceId) {
      const found = ctx.store.prices.get(priceId);
      if (!found) throw noSuch('price', priceId, `${name}[price]`);
      if (!found.active)
        throw invalidParam(`${name}[price]`, `The price specified is inactive. This field only accepts active prices.`);
      price = found;
      description = ctx.store.products.get(found.product)?.name ?? found.nickname ?? '';
    } else if (priceData !== undefined) {
      const pd = `${name}[price_data]`;
      if (!isObject(priceData))
        throw invalidParam(pd, `Invalid object: ${pd} must be a hash.`, 'parameter_invalid_object');
      rejectUnknown(priceData, PRICE_DATA_PARAMS, pd);
      if (priceData.recurring !== undefined) {
        throw invalidParam(
          `${pd}[recurring]`,
          'You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.',
        );
      }
      const cur = currency(priceData, 'currency', `${pd}[currency]`);
      const unitAmount = requiredInteger(priceData, 'unit_amount', `${pd}[unit_amount]`, 0, MAX_AMOUNT);
      let product: Product;
      const productId = optionalString(priceData, 'product', `${pd}[product]`);
      const productData = priceData.product_data;
      if (productId && productData !== undefined) {
        throw invalidParam(`${pd}[product]`, 'You may only specify one of these parameters: product, product_data.');
      }
      if (productId) {
        const found = ctx.store.products.get(productId);
        if (!found) throw noSuch('product', productId, `${pd}[product]`);
        product = found;
      } else {
        const pdd = `${pd}[product_data]`;
        if (productData === undefined) throw missingParam(`${pd}[product_data]`);
        if (!isObject(productData))
          throw invalidParam(pdd, `Invalid object: ${pdd} must be a hash.`, 'parameter_invalid_object');
        rejectUnknown(productData, PRODUCT_DATA_PARAMS, pdd);
        product = {
          id: newId('prod'),
          object: 'product',
          created: nowSeconds(),
          livemode: false,
          active: true,
          name: requiredString(productData, 'name', `${pdd}[name]`, 250),
          description: optionalString(productData, 'description', `${pdd}[description]`) || null,
          metadata: metadata(productData, 'metadata', `${pdd}[metadata]`) ?? {},
        };
        products.push(product);
      }
      price = {
        id: newId('price'),
        object: 'price',
        created: nowSeconds(),
        livemode: false,
        active: false,
        currency: cur,
        unit_amount: unitAmount,
        unit_amount_decimal: String(unitAmount),
        product: product.id,
        type: 'one_time',
        billing_scheme: 'per_unit',
        lookup_key: null,
        nickname: null,
        recurring: null,
        tax_behavior: 'unspecified',
        metadata: {},
      };
      prices.push(price);
      description = product.name;
    } else {
      throw invalidRequest(
        `You must specify either \`price\` or \`price_data\` in ${name}.`,
        `${name}[price]`,
        'parameter_missing',
      );
    }
    const amount = price.unit_amount * quantity;
    if (items.length > 0 && items[0].currency !== price.currency) {
      throw invalidParam(`${name}[price]`, 'All line items must have the same currency.');
    }
    items.push({
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
    });
  }
  return { items, products, prices };
}

function createSession(ctx: Context, req: ApiRequest): CheckoutSession {
  const p = req.params;
  rejectUnknown(p, SESSION_PARAMS);
  const mode = optionalString(p, 'mode');
  if (!mode) throw missingParam('mode');
  if (!['payment', 'setup', 'subscription'].includes(mode)) {
    throw invalidParam('mode', `Invalid mode: must be one of payment, setup, or subscription`);
  }
  if (mode !== 'payment') throw invalidParam('mode', `The Stripe emulator supports only mode=payment (got ${mode}).`);
  const uiMode = optionalString(p, 'ui_mode');
  if (uiMode && uiMode !== 'hosted') {
    throw invalidParam('ui_mode', `The Stripe emulator supports only ui_mode=hosted (got ${uiMode}).`);
  }
  if (p.return_url !== undefined) {
    throw invalidParam('return_url', 'You can only specify `return_url` when `ui_mode` is `embedded` or `custom`.');
  }
  const successUrl = absoluteUrl(p, 'success_url', true)!;
  const cancelUrl = absoluteUrl(p, 'cancel_url', false) ?? null;

  const customerId = optionalString(p, 'customer') || null;
  if (customerId && !ctx.store.customers.has(customerId)) throw noSuch('customer', customerId, 'customer');
  const customerEmail = optionalString(p, 'customer_email', 'customer_email', 800) || null;
  if (customerId && customerEmail) {
    throw invalidParam('customer_email', 'You may only specify one of these parameters: customer, customer_email.');
  }
  const customerCreation = optionalString(p, 'customer_creation') || null;
  if (customerCreation && customerCreation !== 'always' && customerCreation !== 'if_required') {
    throw invalidParam('customer_creation', 'Invalid customer_creation: must be one of always or if_required');
  }
  if (customerCreation && customerId) {
    throw invalidParam('customer_creation', '`customer_creation` can only be used when `customer` is not set.');
  }
  const clientReferenceId = optionalString(p, 'client_reference_id', 'client_reference_id', 200) || null;
  const meta = metadata(p) ?? {};

  let piMetadata: Record<string, string> = {};
  let piDescription: string | null = null;
  const piData = p.payment_intent_data;
  if (piData !== undefined && piData !== '') {
    if (!isObject(piData))
      throw invalidParam(
        'payment_intent_data',
        'Invalid object: payment_intent_data must be a hash.',
        'parameter_invalid_object',
      );
    rejectUnknown(piData, PI_DATA_PARAMS, 'payment_intent_data');
    piMetadata = metadata(piData, 'metadata', 'payment_intent_data[metadata]') ?? {};
    piDescription = optionalString(piData, 'description', 'payment_intent_data[description]', 1000) || null;
  }

  let pmTypes = ['card'];
  const rawTypes = p.payment_method_types;
  if (rawTypes !== undefined && rawTypes !== '') {
    const list = Array.isArray(rawTypes) ? rawTypes : [rawTypes];
    if (list.length === 0 || list.some((t) => typeof t !== 'string' || !/^[a-z_]+$/.test(t))) {
      throw invalidParam(
        'payment_method_types',
        'Invalid array: payment_method_types must be a list of payment method types.',
        'parameter_invalid_array',
      );
    }
    pmTypes = list as string[];
  }

  const locale = optionalString(p, 'locale') || null;
  if (locale && !LOCALES.test(locale)) throw invalidParam('locale', `Invalid locale: ${locale}`);
  const submitType = optionalString(p, 'submit_type') || null;
  if (submitType && !['auto', 'book', 'donate', 'pay', 'subscribe'].includes(submitType)) {
    throw invalidParam('submit_type', 'Invalid submit_type: must be one of auto, book, donate, pay, or subscribe');
  }
  const allowPromotionCodes = optionalBoolean(p, 'allow_promotion_codes') ?? null;

  const created = nowSeconds();
  const expiresAt = optionalInteger(p, 'expires_at', 'expires_at', 0) ?? created + 24 * 3600;
  if (expiresAt < created + 30 * 60) {
    throw invalidParam(
      'expires_at',
      'The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.',
    );
  }
  if (expiresAt > created + 24 * 3600) {
    throw invalidParam(
      'expires_at',
      'The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.',
    );
  }

  const built = buildLineItems(ctx, p);
  const lineItems = built.items;
  const cur = lineItems[0].currency;
  const requested = optionalString(p, 'currency');
  if (requested && requested.toLowerCase() !== cur) {
    throw invalidParam('currency', `The currency (${requested}) must match the currency of the line items (${cur}).`);
  }
  const total = lineItems.reduce((sum, li) => sum + li.amount_total, 0);
  if (total > MAX_AMOUNT) {
    throw invalidRequest(
      `The Checkout Session's total amount due must be no more than ${MAX_AMOUNT} (in the smallest currency unit).`,
      'line_items',
    );
  }
  const minimum = minimumChargeAmount(cur);
  if (minimum !== undefined && total < minimum) {
    throw invalidRequest(
      `The Checkout Session's total amount due must add up to at least ${minimum} ${cur} (in the smallest currency unit).`,
      'line_items',
    );
  }

  const id = newId('cs');
  const session: CheckoutSession = {
    id,
    object: 'checkout.session',
    created,
    livemode: false,
    mode: 'payment',
    status: 'open',
    payment_status: 'unpaid',
    url: `${ctx.publicUrl}/pay/${id}`,
    success_url: successUrl,
    cancel_url: cancelUrl,
    amount_subtotal: total,
    amount_total: total,
    currency: cur,
    customer: customerId,
    customer_email: customerEmail,
    customer_creation: customerId
      ? null
      : ((customerCreation as CheckoutSession['customer_creation']) ?? 'if_required'),
    customer_details: null,
    client_reference_id: clientReferenceId,
    client_secret: null,
    metadata: meta,
    expires_at: expiresAt,
    payment_intent: null,
    payment_link: null,
    payment_method_types: pmTypes,
    locale,
    submit_type: submitType,
    ui_mode: 'hosted',
    allow_promotion_codes: allowPromotionCodes,
    invoice: null,
    subscription: null,
    setup_intent: null,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    automatic_tax: { enabled: false, liability: null, status: null },
  };
  for (const product of built.products) ctx.store.products.set(product.id, product);
  for (const price of built.prices) ctx.store.prices.set(price.id, price);
  ctx.store.sessions.set(id, session);
  ctx.store.sessionExtras.set(id, {
    lineItems,
    paymentIntentMetadata: piMetadata,
    paymentIntentDescription: piDescription,
    apiVersion: req.apiVersion,
    charge: null,
  });
  return session;
}

function lineItemList(ctx: Context, session: CheckoutSession, params: FormObject = {}): unknown {
  const items = ctx.store.sessionExtras.get(session.id)?.lineItems ?? [];
  return paginate(items, params, `/v1/checkout/sessions/${session.id}/line_items`);
}

function render(ctx: Context, session: CheckoutSession, params: FormObject): CheckoutSession {
  return expandObject(ctx, session, params, { line_items: () => lineItemList(ctx, session) });
}

function findSession(ctx: Context, id: string): CheckoutSession {
  const session = ctx.store.sessions.get(id);
  if (!session) throw noSuch('checkout.session', id);
  expireIfDue(ctx, session);
  return session;
}

export const checkoutRoutes: Route[] = [
  {
    method: 'POST',
    pattern: /^\/v1\/checkout\/sessions$/,
    handler(ctx, req) {
      const session = createSession(ctx, req);
      return ok(render(ctx, session, req.params));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/checkout\/sessions$/,
    handler(ctx, req) {
      const { payment_intent: pi, customer, status, ...rest } = req.params;
      let all = newestFirst(ctx.store.sessions.values());
      if (typeof pi === 'string') all = all.filter((s) => s.payment_intent === pi);
      if (typeof customer === 'string') all = all.filter((s) => s.customer === customer);
      if (typeof status === 'string') all = all.filter((s) => s.status === status);
      const { expand: _expand, ...pageParams } = rest;
      return ok(paginate(all, pageParams, '/v1/checkout/sessions'));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/checkout\/sessions\/([^/]+)$/,
    handler(ctx, req, match) {
      return ok(render(ctx, findSession(ctx, match[1]), req.params));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/checkout\/sessions\/([^/]+)\/line_items$/,
    handler(ctx, req, match) {
      const { expand: _expand, ...pageParams } = req.params;
      return ok(lineItemList(ctx, findSession(ctx, match[1]), pageParams));
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/checkout\/sessions\/([^/]+)\/expire$/,
    handler(ctx, req, match) {
      const session = findSession(ctx, match[1]);
      try {
        expireSession(ctx, session, true);
      } catch (err) {
        if (err instanceof FlowError) {
          throw new StripeHttpError(400, {
            type: 'invalid_request_error',
            code: 'checkout_session_not_expirable',
            message: `Only Checkout Sessions with a status of 'open' can be expired. This session has status '${session.status}'.`,
          });
        }
        throw err;
      }
      return ok(render(ctx, session, req.params));
    },
  },
];
