/**
 * Stripe's idempotency semantics, keyed by (API key, Idempotency-Key):
 * - first use: the request runs; a 2xx result is stored for 24 h;
 * - same key, same endpoint and parameters: the stored response is replayed;
 * - same key, other parameters: 400 `idempotency_error`;
 * - same key while the first request still runs: 409 `idempotency_error`
 *   (`idempotency_key_in_use`) with `Stripe-Should-Retry: true`, which the SDK retries.
 * Errors (validation 4xx, injected 5xx) are not stored, so a retry runs again.
 */
export interface StoredResponse {
  status: number;
  body: string;
}

interface Entry {
  fingerprint: string;
  expiresAt: number;
  response: StoredResponse | null; // null while the first request is in flight
}

export type IdempotencyLookup =
  { kind: 'new' } | { kind: 'replay'; response: StoredResponse } | { kind: 'mismatch' } | { kind: 'in_progress' };

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs = IDEMPOTENCY_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  private static key(apiKey: string, idempotencyKey: string): string {
    return `${apiKey}\u0000${idempotencyKey}`;
  }

  /** Looks the key up; when new, reserves it (the caller must `complete` or `release`). */
  begin(apiKey: string, idempotencyKey: string, fingerprint: string): IdempotencyLookup {
    const key = IdempotencyStore.key(apiKey, idempotencyKey);
    const now = this.now();
    const existing = this.entries.get(key);
    if (existing && existing.expiresAt > now) {
      if (existing.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (!existing.response) return { kind: 'in_progress' };
      return { kind: 'replay', response: existing.response };
    }
    if (existing) this.entries.delete(key);
    this.evict(now);
    this.entries.set(key, { fingerprint, expiresAt: now + this.ttlMs, response: null });
    return { kind: 'new' };
  }

  complete(apiKey: string, idempotencyKey: string, response: StoredResponse): void {
    const entry = this.entries.get(IdempotencyStore.key(apiKey, idempotencyKey));
    if (entry) entry.response = response;
  }

  release(apiKey: string, idempotencyKey: string): void {
    const key = IdempotencyStore.key(apiKey, idempotencyKey);
    const entry = this.entries.get(key);
    if (entry && !entry.response) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops expired entries from the front, then the oldest beyond the cap. */
  private evict(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now && this.entries.size < this.maxEntries) break;
      if (entry.response || entry.expiresAt <= now) this.entries.delete(key);
      else break;
    }
  }
}
