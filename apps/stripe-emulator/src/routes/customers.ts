import { ok, type ApiHandler } from '../context';
import { newCustomer } from '../objects';
import { metadata, newestFirst, optionalString, paginate, rejectUnknown } from '../validate';
import { expandObject } from './expand';
import { retrieve, stored } from './retrieve';

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
  'payment_method',
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
