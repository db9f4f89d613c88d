/** Readers of Stripe's request parameters that answer a bad one as Stripe does (400, naming the `param`). */
import type { FormObject, FormValue } from './form-encoding';
import { invalidParam, invalidRequest, missingParam } from './stripe-errors';

/** Every Stripe object's `metadata`: string keys and values. */
export type Metadata = Record<string, string>;

export function isObject(value: FormValue | undefined): value is FormObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Stripe answers unknown parameters with `Received unknown parameter: x`. */
export function rejectUnknown(params: FormObject, allowed: ReadonlySet<string>, prefix = ''): void {
  for (const key of Object.keys(params)) {
    if (!allowed.has(key)) {
      const name = prefix ? `${prefix}[${key}]` : key;
      throw invalidRequest(`Received unknown parameter: ${name}`, name);
    }
  }
}

export function optionalString(params: FormObject, key: string, param = key, maxLength = 5000): string | undefined {
  const value = params[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw invalidParam(param, `Invalid string: ${param} must be a string.`, 'parameter_invalid_string');
  if (value.length > maxLength) {
    throw invalidParam(
      param,
      `Invalid string: ${param} must be at most ${maxLength} characters.`,
      'parameter_invalid_string',
    );
  }
  return value;
}

/** The required form of an optional reader: absent or empty is Stripe's missing-parameter error. */
function required<T, Rest extends unknown[]>(
  read: (params: FormObject, key: string, param?: string, ...rest: Rest) => T | undefined,
): (params: FormObject, key: string, param?: string, ...rest: Rest) => T {
  return (params, key, param = key, ...rest) => {
    const value = read(params, key, param, ...rest);
    if (value === undefined || value === '') throw missingParam(param);
    return value;
  };
}

export const requiredString = required(optionalString);

export function optionalInteger(
  params: FormObject,
  key: string,
  param = key,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const value = params[key];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
    throw invalidParam(
      param,
      `Invalid integer: ${typeof value === 'string' ? value : param}`,
      'parameter_invalid_integer',
    );
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw invalidParam(param, `Invalid integer: ${value}`, 'parameter_invalid_integer');
  if (n < min) {
    throw invalidParam(param, `This value must be greater than or equal to ${min}.`, 'parameter_invalid_integer');
  }
  if (n > max) {
    throw invalidParam(param, `This value must be less than or equal to ${max}.`, 'parameter_invalid_integer');
  }
  return n;
}

export const requiredInteger = required(optionalInteger);

export function optionalBoolean(params: FormObject, key: string, param = key): boolean | undefined {
  const value = params[key];
  if (value === undefined || value === '') return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw invalidParam(
    param,
    `Invalid boolean: ${typeof value === 'string' ? value : param}`,
    'parameter_invalid_boolean',
  );
}

export function absoluteUrl(params: FormObject, key: string, required: boolean): string | undefined {
  const value = required ? requiredString(params, key, key, 5000) : optionalString(params, key, key, 5000);
  if (value === undefined || value === '') return undefined;
  let ok: boolean;
  try {
    const url = new URL(value.replace('{CHECKOUT_SESSION_ID}', 'x'));
    ok = url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    ok = false;
  }
  if (!ok) throw invalidParam(key, 'Not a valid URL', 'url_invalid');
  return value;
}

export function currency(params: FormObject, key: string, param: string): string {
  const value = requiredString(params, key, param).toLowerCase();
  if (!/^[a-z]{3}$/.test(value)) {
    throw invalidParam(
      param,
      `Invalid currency: ${value}. Stripe currently supports these currencies: usd, eur, gbp, …`,
    );
  }
  return value;
}

/** Stripe's metadata rules: at most 50 keys, key ≤ 40 characters, value ≤ 500 characters, strings only. */
export function metadata(params: FormObject, key = 'metadata', param = key): Metadata | undefined {
  const value = params[key];
  if (value === undefined || value === '') return value === '' ? {} : undefined;
  if (!isObject(value))
    throw invalidParam(
      param,
      `Invalid object: ${param} must be a hash of string keys and values.`,
      'parameter_invalid_object',
    );
  const keys = Object.keys(value);
  if (keys.length > 50) {
    throw invalidParam(param, 'Metadata can have a maximum of 50 keys.');
  }
  const out: Metadata = {};
  for (const k of keys) {
    const v = value[k];
    if (k.length > 40) {
      throw invalidParam(
        `${param}[${k}]`,
        `Metadata keys can have a maximum length of 40 characters. The key '${k.slice(0, 40)}…' is ${k.length} characters.`,
      );
    }
    if (typeof v !== 'string') {
      throw invalidParam(`${param}[${k}]`, `Invalid value type: metadata values must be strings (key '${k}').`);
    }
    if (v.length > 500) {
      throw invalidParam(
        `${param}[${k}]`,
        `Metadata values can have up to 500 characters, but you passed in a value that is ${v.length} characters.`,
      );
    }
    if (v !== '') out[k] = v;
  }
  return out;
}
