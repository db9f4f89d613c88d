import { Injectable, Logger } from '@nestjs/common';
import { InjectThrottlerStorage, type ThrottlerStorage } from '@nestjs/throttler';
import { InjectConfig, type AppConfig } from '@credits/config';
import { RateLimitError } from '@credits/errors';

/** Addresses remembered as blocked in this process; bounded so a flood cannot grow it. */
const MAX_BLOCKED_ADDRESSES = 10_000;

/**
 * Rate limits count the authenticated caller, so they run after authentication; a caller that
 * never authenticates is counted here instead: failed authentications per client address,
 * shared through the same counters as the other limits (Redis when configured). Past
 * `RATE_LIMIT_AUTH_FAILURES` in a window the address gets 429 for the rest of the window,
 * answered before any credential lookup, so a flood of forged keys does not reach the database.
 */
@Injectable()
export class AuthFailureLimiter {
  private readonly logger = new Logger(AuthFailureLimiter.name);
  private readonly blockedUntil = new Map<string, number>();

  constructor(
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** Throws the 429 envelope while this address is blocked. */
  assertAllowed(address: string): void {
    const until = this.blockedUntil.get(address);
    if (until === undefined) return;
    const left = until - Date.now();
    if (left > 0) throw new RateLimitError(Math.ceil(left / 1000));
    this.blockedUntil.delete(address);
  }

  /**
   * Counts one failed authentication. Over the limit, the address is blocked and the 429 to
   * answer instead of the 401 is returned.
   */
  async recordFailure(address: string): Promise<RateLimitError | undefined> {
    const { windowMs, authFailures } = this.config.rateLimit;
    let record;
    try {
      record = await this.storage.increment(
        `rate-limit:auth-failures:ip:${address}`,
        windowMs,
        authFailures,
        windowMs,
        'auth-failures',
      );
    } catch {
      return undefined; // fail open, like the other limits (the storage logs the outage)
    }
    if (!record.isBlocked) return undefined;
    if (this.blockedUntil.size >= MAX_BLOCKED_ADDRESSES) this.blockedUntil.clear();
    if (!this.blockedUntil.has(address)) {
      this.logger.warn({ msg: 'too many failed authentications: address blocked for the window', ip: address });
    }
    const seconds = Math.max(1, record.timeToBlockExpire);
    this.blockedUntil.set(address, Date.now() + seconds * 1000);
    return new RateLimitError(seconds);
  }
}
