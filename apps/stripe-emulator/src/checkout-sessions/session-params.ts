import type { Context } from '../context';
import type { FormObject } from '../stripe-api/form-encoding';
import { nowSeconds } from '../stripe-api/ids';
import {
  absoluteUrl,
  isObject,
  metadata,
  optionalBoolean,
  optionalInteger,
  optionalString,
  rejectUnknown,
} from '../stripe-api/params';
import { invalidParam, missingParam, noSuch } from '../stripe-api/stripe-errors';
import type { CheckoutSession } from './checkout-session';

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

/** The session fields its top-level parameters give (everything but the line items and their totals). */
export type SessionSettings = Pick<
  CheckoutSession,
  | 'created'
  | 'success_url'
  | 'cancel_url'
  | 'customer'
  | 'customer_email'
  | 'customer_creation'
  | 'client_reference_id'
  | 'metadata'
  | 'expires_at'
  | 'payment_method_types'
  | 'locale'
  | 'submit_type'
  | 'allow_promotion_codes'
>;

/** `payment_intent_data`: kept with the session for the payment intent and charge that paying creates. */
export interface PaymentIntentData {
  metadata: Record<string, string>;
  description: string | null;
  setupFutureUsage: 'off_session' | 'on_session' | null;
}

/**
 * A Checkout Session's top-level parameters, validated in Stripe's order, so that of several
 * invalid ones the same one is reported.
 */
export function readSessionParams(
  ctx: Context,
  p: FormObject,
): { settings: SessionSettings; paymentIntentData: PaymentIntentData } {
  rejectUnknown(p, SESSION_PARAMS);
  checkHostedPayment(p);
  const successUrl = absoluteUrl(p, 'success_url', true)!;
  const cancelUrl = absoluteUrl(p, 'cancel_url', false) ?? null;
  const customer = readCustomer(ctx, p);
  const clientReferenceId = optionalString(p, 'client_reference_id', 'client_reference_id', 200) || null;
  const meta = metadata(p) ?? {};
  const paymentIntentData = readPaymentIntentData(p);
  const paymentMethodTypes = readPaymentMethodTypes(p);
  const locale = optionalString(p, 'locale') || null;
  if (locale && !LOCALES.test(locale)) throw invalidParam('locale', `Invalid locale: ${locale}`);
  const submitType = optionalString(p, 'submit_type') || null;
  if (submitType && !['auto', 'book', 'donate', 'pay', 'subscribe'].includes(submitType)) {
    throw invalidParam('submit_type', 'Invalid submit_type: must be one of auto, book, donate, pay, or subscribe');
  }
  const allowPromotionCodes = optionalBoolean(p, 'allow_promotion_codes') ?? null;
  const created = nowSeconds();
  return {
    settings: {
      created,
      success_url: successUrl,
      cancel_url: cancelUrl,
      ...customer,
      client_reference_id: clientReferenceId,
      metadata: meta,
      expires_at: readExpiresAt(p, created),
      payment_method_types: paymentMethodTypes,
      locale,
      submit_type: submitType,
      allow_promotion_codes: allowPromotionCodes,
    },
    paymentIntentData,
  };
}

/** The emulator makes one kind of session: `mode=payment` on Stripe's hosted page. */
function checkHostedPayment(p: FormObject): void {
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
}

/** `customer` (which must exist), or `customer_email` and `customer_creation`: not both. */
function readCustomer(
  ctx: Context,
  p: FormObject,
): Pick<SessionSettings, 'customer' | 'customer_email' | 'customer_creation'> {
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
  return {
    customer: customerId,
    customer_email: customerEmail,
    customer_creation: customerId
      ? null
      : ((customerCreation as SessionSettings['customer_creation']) ?? 'if_required'),
  };
}

function readPaymentIntentData(p: FormObject): PaymentIntentData {
  const piData = p.payment_intent_data;
  if (piData === undefined || piData === '') return { metadata: {}, description: null, setupFutureUsage: null };
  if (!isObject(piData))
    throw invalidParam(
      'payment_intent_data',
      'Invalid object: payment_intent_data must be a hash.',
      'parameter_invalid_object',
    );
  rejectUnknown(piData, PI_DATA_PARAMS, 'payment_intent_data');
  const usage = optionalString(piData, 'setup_future_usage', 'payment_intent_data[setup_future_usage]') || null;
  if (usage && usage !== 'off_session' && usage !== 'on_session') {
    throw invalidParam(
      'payment_intent_data[setup_future_usage]',
      'Invalid payment_intent_data[setup_future_usage]: must be one of on_session or off_session',
    );
  }
  return {
    metadata: metadata(piData, 'metadata', 'payment_intent_data[metadata]') ?? {},
    description: optionalString(piData, 'description', 'payment_intent_data[description]', 1000) || null,
    setupFutureUsage: usage as PaymentIntentData['setupFutureUsage'],
  };
}

function readPaymentMethodTypes(p: FormObject): string[] {
  const rawTypes = p.payment_method_types;
  if (rawTypes === undefined || rawTypes === '') return ['card'];
  const list = Array.isArray(rawTypes) ? rawTypes : [rawTypes];
  if (list.length === 0 || list.some((t) => typeof t !== 'string' || !/^[a-z_]+$/.test(t))) {
    throw invalidParam(
      'payment_method_types',
      'Invalid array: payment_method_types must be a list of payment method types.',
      'parameter_invalid_array',
    );
  }
  return list as string[];
}

/** 30 minutes to 24 hours after creation; 24 hours when not given. */
function readExpiresAt(p: FormObject, created: number): number {
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
  return expiresAt;
}
