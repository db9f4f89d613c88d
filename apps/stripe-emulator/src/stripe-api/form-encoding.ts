/**
 * Stripe's form encoding: `application/x-www-form-urlencoded` with nested keys
 * (`line_items[0][price_data][currency]=usd`, `metadata[org_id]=…`,
 * `expand[]=line_items`). Values stay strings, as on the wire.
 */
export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

export class FormError extends Error {}

const MAX_PAIRS = 2000;
const MAX_DEPTH = 8;
const MAX_INDEX = 999;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

function decode(raw: string): string {
  const s = raw.indexOf('+') >= 0 ? raw.replace(/\+/g, ' ') : raw;
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    throw new FormError(`Invalid URL encoding: ${raw.slice(0, 40)}`);
  }
}

/** `a[b][0][]` -> ['a', 'b', '0', '']; a key that does not follow the pattern stays literal. */
export function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const segments = [key.slice(0, open)];
  let i = open;
  while (i < key.length) {
    if (key[i] !== '[') return [key];
    const close = key.indexOf(']', i);
    if (close < 0) return [key];
    segments.push(key.slice(i + 1, close));
    i = close + 1;
  }
  return segments;
}

function isIndex(segment: string): boolean {
  return segment === '' || /^\d+$/.test(segment);
}

function assign(root: FormObject, path: string[], value: string, fullKey: string): void {
  if (path.length > MAX_DEPTH) throw new FormError(`Parameter nested too deeply: ${fullKey}`);
  let container: FormObject | FormValue[] = root;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    if (FORBIDDEN.has(segment)) throw new FormError(`Invalid parameter name: ${fullKey}`);
    const last = i === path.length - 1;
    // Children of `metadata` are always keys, even when they look like indexes.
    const nextIsArray = !last && isIndex(path[i + 1]) && segment !== 'metadata';
    if (Array.isArray(container)) {
      if (!isIndex(segment)) throw new FormError(`Invalid array parameter: ${fullKey}`);
      const index: number = segment === '' ? container.length : Number(segment);
      if (index > MAX_INDEX) throw new FormError(`Array index too large: ${fullKey}`);
      if (last) {
        container[index] = value;
        return;
      }
      let child: FormValue | undefined = container[index];
      if (child === undefined || typeof child === 'string') {
        child = nextIsArray ? [] : {};
        container[index] = child;
      }
      container = child;
    } else {
      if (last) {
        container[segment] = value;
        return;
      }
      let child: FormValue | undefined = Object.prototype.hasOwnProperty.call(container, segment)
        ? container[segment]
        : undefined;
      if (child === undefined || typeof child === 'string') {
        child = nextIsArray ? [] : {};
        container[segment] = child;
      }
      container = child;
    }
  }
}

export function parseForm(input: string): FormObject {
  const out: FormObject = {};
  if (!input) return out;
  const pairs = input.split('&');
  if (pairs.length > MAX_PAIRS) throw new FormError('Too many parameters.');
  for (const pair of pairs) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = decode(eq >= 0 ? pair.slice(0, eq) : pair);
    const value = eq >= 0 ? decode(pair.slice(eq + 1)) : '';
    if (!key) continue;
    assign(out, splitKey(key), value, key);
  }
  return out;
}

/** Deterministic serialisation (sorted keys) used to compare the parameters of two requests. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v ?? null)).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
