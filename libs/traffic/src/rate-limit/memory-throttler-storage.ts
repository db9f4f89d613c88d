import type { OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

interface Counter {
  hits: number;
  /** When the window ends (ms since the epoch). */
  windowEndsAt: number;
  /** While over the limit: when the block ends (0: not blocked). */
  blockedUntil: number;
}

/** How often counters whose window and block have both ended are forgotten. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Rate-limit counters in this process (no `REDIS_URL`): a fixed window per key, counted as the
 * Redis storage counts it (the same increment, block and reset rules), so one instance behaves
 * the same with or without Redis. Constant work per request: the library's own in-memory
 * storage keeps a timestamp per hit and filters the whole list on every request, which costs
 * in proportion to the limit (the bench's budgets allow thousands a second).
 */
export class MemoryThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly counters = new Map<string, Counter>();
  private readonly sweeper = setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS).unref();

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    return this.count(key, ttl, limit, blockDuration, throttlerName);
  }

  /** `increment`, answered at once: `RateLimitGuard` counts without waiting when the counters are here. */
  count(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): ThrottlerStorageRecord {
    const now = Date.now();
    const id = `${key}:${throttlerName}`;
    let counter = this.counters.get(id);
    if (!counter) {
      counter = { hits: 0, windowEndsAt: 0, blockedUntil: 0 };
      this.counters.set(id, counter);
    }
    if (counter.windowEndsAt <= now) {
      counter.hits = 0;
      counter.windowEndsAt = now + ttl;
    }
    counter.hits++;
    let blocked = counter.blockedUntil > now;
    if (!blocked && counter.hits > limit) {
      counter.blockedUntil = now + blockDuration;
      blocked = true;
    }
    return {
      totalHits: counter.hits,
      timeToExpire: Math.ceil((counter.windowEndsAt - now) / 1000),
      isBlocked: blocked,
      timeToBlockExpire: blocked ? Math.ceil((counter.blockedUntil - now) / 1000) : 0,
    };
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
  }

  private sweep(now: number): void {
    for (const [id, counter] of this.counters) {
      if (counter.windowEndsAt <= now && counter.blockedUntil <= now) this.counters.delete(id);
    }
  }
}
