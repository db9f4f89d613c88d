import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Random base62 string; bytes are drawn in batches so ids stay cheap under load. */
let pool = Buffer.alloc(0);
let poolOffset = 0;

export function randomBase62(length: number): string {
  if (poolOffset + length > pool.length) {
    pool = randomBytes(Math.max(4096, length));
    poolOffset = 0;
  }
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[pool[poolOffset + i] % 62];
  poolOffset += length;
  return out;
}

/** Stripe-like ids: `cus_` + 14, `cs_test_` + 58, everything else prefix + 24. */
export function newId(prefix: string): string {
  if (prefix === 'cus') return `cus_${randomBase62(14)}`;
  if (prefix === 'prod') return `prod_${randomBase62(14)}`;
  if (prefix === 'cs') return `cs_test_${randomBase62(58)}`;
  return `${prefix}_${randomBase62(24)}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
