import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `ck_<8 id chars>_<43 secret chars>`. The `ck_<id>` part is the
 * prefix: stored in clear, shown in listings, used to find the key and to revoke it.
 * Only a SHA-256 of the whole key is stored; the key is shown once, at creation.
 * (A fast hash is right here: the secret has 256 bits of entropy, nothing to brute-force.)
 */
const KEY_PATTERN = /^(ck_[A-Za-z0-9]{8})_[A-Za-z0-9_-]{43}$/;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export interface GeneratedApiKey {
  key: string;
  prefix: string;
  hash: string;
}

export function generateApiKey(): GeneratedApiKey {
  const id = Array.from(randomBytes(8), (byte) => ALPHANUMERIC[byte % ALPHANUMERIC.length]).join('');
  const prefix = `ck_${id}`;
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  // The one-shot form: every request with a key hashes it (the credential cache's id).
  return hash('sha256', key, 'hex');
}

/** The prefix of a well-formed key, or undefined. */
export function apiKeyPrefix(token: string): string | undefined {
  return KEY_PATTERN.exec(token)?.[1];
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith('ck_');
}

/** Constant-time comparison of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
