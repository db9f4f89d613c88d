import { LRUCache } from 'lru-cache';
import type { CredentialChange } from './credential-changes';

/** What a cached answer is about: what a `CredentialChange` may name, and when it expires. */
export interface CredentialTags {
  keyId?: string;
  userId?: string;
  orgId?: string;
  /** The org slug the answer was asked about (found or not). */
  orgSlug?: string;
  /** The credential stops working at this instant, cached or not. */
  expiresAt?: Date | null;
}

export interface CachedCredential<T> {
  value: T;
  tags: CredentialTags;
}

export interface CredentialCacheOptions {
  /** 0: nothing is cached. */
  maxAgeMs: number;
  maxEntries: number;
  /** Milliseconds since the epoch; for tests. Default `Date.now` (and a monotonic clock for ages). */
  clock?: () => number;
}

/** Taken before a read, handed to `set` after it: see `ticket()`. */
export type CacheTicket = number | undefined;

/**
 * Answers of the credential checks (a verified API key, a JWT subject's user, a membership
 * of an org) kept for at most `maxAgeMs`, so that a request by a known caller needs no
 * database round trip to authenticate. Entries are keyed by what the caller presents (an
 * API key's SHA-256, never the key itself) and tagged with the ids a change names.
 *
 * It serves only while its change listener is listening (`setListening`): a notification
 * missed while the connection was down could name an entry, so everything is dropped when it
 * goes down and nothing is served or stored until it is back. Only verified answers are
 * stored: a failed check is never cached, so unknown keys cannot fill it.
 *
 * `lru-cache` (the npm CLI's own) bounds it by count and age; a Map would need its own
 * eviction order and expiry, which is what that package is for.
 */
export class CredentialCache {
  private readonly entries: LRUCache<string, CachedCredential<unknown>> | undefined;
  /** Bumped by every change and outage: a read that began before one must not be stored after it. */
  private generation = 0;
  private listening = false;
  private readonly now: () => number;

  constructor(options: CredentialCacheOptions) {
    this.now = options.clock ?? Date.now;
    if (options.maxAgeMs > 0) {
      this.entries = new LRUCache({
        max: options.maxEntries,
        ttl: options.maxAgeMs,
        updateAgeOnGet: false,
        // A given clock is read at each get (the default caches its reading for a millisecond).
        ...(options.clock && { perf: { now: options.clock }, ttlResolution: 0 }),
      });
    }
  }

  /** Whether answers are served (and stored) now. */
  get serving(): boolean {
    return this.entries !== undefined && this.listening;
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  /** The cached answer, unless it is older than the maximum age or its credential has expired. */
  get<T>(id: string): CachedCredential<T> | undefined {
    if (!this.serving) return undefined;
    const entry = this.entries!.get(id);
    if (!entry) return undefined;
    const expiresAt = entry.tags.expiresAt;
    if (expiresAt && expiresAt.getTime() <= this.now()) {
      this.entries!.delete(id);
      return undefined;
    }
    return entry as CachedCredential<T>;
  }

  /**
   * Take one before reading what `set` will store. A change announced while the read was in
   * flight may have been read before it committed: then the ticket is stale and `set` stores
   * nothing.
   */
  ticket(): CacheTicket {
    return this.serving ? this.generation : undefined;
  }

  set<T>(ticket: CacheTicket, id: string, value: T, tags: CredentialTags): void {
    if (ticket === undefined || ticket !== this.generation || !this.serving) return;
    this.entries!.set(id, { value: freeze(value), tags });
  }

  /** Drops every answer that concerns an id the change names; undefined drops everything. */
  invalidate(change: CredentialChange | undefined): void {
    this.generation++;
    if (!this.entries) return;
    if (!change) return this.entries.clear();
    // A scan: changes are rare (an operator's command), lookups are not; no index to keep.
    const concerned: string[] = [];
    for (const [id, { tags }] of this.entries.entries()) {
      if (
        (change.key !== undefined && tags.keyId === change.key) ||
        (change.user !== undefined && tags.userId === change.user) ||
        (change.org !== undefined && tags.orgId === change.org) ||
        (change.slug !== undefined && tags.orgSlug === change.slug)
      ) {
        concerned.push(id);
      }
    }
    for (const id of concerned) this.entries.delete(id);
  }

  /** Told by the change listener: entries are kept and served only while it listens. */
  setListening(listening: boolean): void {
    if (!listening) this.invalidate(undefined);
    this.listening = listening;
  }
}

/** One answer is shared by every request that hits it: nothing may change it in place. */
function freeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) freeze(child);
  return Object.freeze(value);
}
