import { ok, type ApiHandler, type Context } from '../context';
import { expandObject } from '../stripe-api/expand';
import type { FormObject } from '../stripe-api/form-encoding';
import { newestFirst, paginate } from '../stripe-api/lists';
import { isObject, metadata, optionalString, rejectUnknown } from '../stripe-api/params';
import { retrieve, stored } from '../stripe-api/retrieve';
import { invalidParam, invalidRequest, noSuch } from '../stripe-api/stripe-errors';
import { newCustomer } from './customer';

const INVOICE_SETTINGS_PARAMS = new Set(['custom_fields', 'default_payment_method', 'footer', 'rendering_options']);
const DEFAULT_PM_PARAM = 'invoice_settings[default_payment_method]';

/**
 * `invoice_settings[default_payment_method]`: undefined when not given, null to unset (`''`),
 * else a PaymentMethod attached to the customer, as Stripe requires.
 */
function readDefaultPaymentMethod(ctx: Context, p: FormObject, customerId: string | null): string | null | undefined {
  const settings = p.invoice_settings;
  if (settings === undefined) return undefined;
  if (settings === '') return null;
  if (!isObject(settings)) {
    throw invalidParam(
      'invoice_settings',
      'Invalid object: invoice_settings must be a hash.',
      'parameter_invalid_object',
    );
  }
  rejectUnknown(settings, INVOICE_SETTINGS_PARAMS, 'invoice_settings');
  const id = optionalString(settings, 'default_payment_method', DEFAULT_PM_PARAM);
  if (id === undefined) return undefined;
  if (id === '') return null;
  const pm = ctx.store.paymentMethods.get(id);
  if (!pm) throw noSuch('PaymentMethod', id, DEFAULT_PM_PARAM);
  if (!customerId || pm.customer !== customerId) {
    throw invalidRequest(
      `The customer does not have a payment method with the ID ${id}. The payment method must be attached to the customer.`,
      DEFAULT_PM_PARAM,
    );
  }
  return id;
}

const CREATE_PARAMS = new Set([
  'name',
  'email',
  'description',
  'phone',
  'metadata',
  'expand',
  'address',
  'shipping',
  'preferred_locales',
  'invoice_settings',
  'tax',
  'tax_exempt',
  'tax_id_data',
  'balance',
  'source',
  'test_clock',
]);
const LIST_PARAMS = new Set(['limit', 'email', 'starting_after', 'ending_before', 'created', 'expand', 'test_clock']);

export const createCustomer: ApiHandler = (ctx, req) => {
  const p = req.params;
  rejectUnknown(p, CREATE_PARAMS);
  const customer = newCustomer({
    name: optionalString(p, 'name', 'name', 256) || null,
    email: optionalString(p, 'email', 'email', 512) || null,
    description: optionalString(p, 'description') || null,
    phone: optionalString(p, 'phone', 'phone', 20) || null,
    metadata: metadata(p) ?? {},
  });
  const defaultPm = readDefaultPaymentMethod(ctx, p, customer.id);
  if (defaultPm !== undefined) customer.invoice_settings.default_payment_method = defaultPm;
  ctx.store.customers.set(customer.id, customer);
  return ok(expandObject(ctx, customer, p));
};

export const listCustomers: ApiHandler = (ctx, req) => {
  rejectUnknown(req.params, LIST_PARAMS);
  const email = optionalString(req.params, 'email');
  let all = newestFirst(ctx.store.customers.values());
  if (email !== undefined) all = all.filter((c) => c.email === email);
  return ok(paginate(all, req.params, '/v1/customers'));
};

export const updateCustomer: ApiHandler = (ctx, req, { id }) => {
  const customer = stored(ctx.store.customers, 'customer', id);
  const p = req.params;
  rejectUnknown(p, CREATE_PARAMS);
  const name = optionalString(p, 'name', 'name', 256);
  const email = optionalString(p, 'email', 'email', 512);
  const description = optionalString(p, 'description');
  const phone = optionalString(p, 'phone', 'phone', 20);
  const meta = metadata(p);
  const defaultPm = readDefaultPaymentMethod(ctx, p, customer.id);
  if (defaultPm !== undefined) customer.invoice_settings.default_payment_method = defaultPm;
  if (name !== undefined) customer.name = name || null;
  if (email !== undefined) customer.email = email || null;
  if (description !== undefined) customer.description = description || null;
  if (phone !== undefined) customer.phone = phone || null;
  if (meta !== undefined) {
    // Stripe merges metadata; an empty value deletes the key, `metadata=` clears it.
    const raw = p.metadata;
    if (raw === '') customer.metadata = {};
    else if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
      for (const [k, v] of Object.entries(raw)) {
        if (v === '') delete customer.metadata[k];
        else customer.metadata[k] = v as string;
      }
    }
  }
  return ok(expandObject(ctx, customer, p));
};

export const retrieveCustomer = retrieve('customer', (store) => store.customers);
