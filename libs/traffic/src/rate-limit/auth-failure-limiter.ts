import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectThrottlerStorage, type ThrottlerStorage } from '@nestjs/throttler';
import { InjectConfig, type AppConfig } from '@credits/config';
import { RateLimitError } from '@credits/errors';

/** Addresses (or credentials) remembered as blocked in this process; bounded so a flood cannot grow it. */
const MAX_BLOCKED = 10_000;

/** Who a failed authentication is counted against. */
export type FailedCaller =
  /** A credential we recognised and refused (revoked, expired, its user gone): counted against it. */
  | { credential: string }
  /** No credential, a malformed one, or one we never issued (a guess): counted against the address. */
  | { address: string };

/**
 * Rate limits count the authenticated caller, so they run after authentication; a caller that
 * fails to authenticate is counted here instead, through the same counters as the other limits
 * (Redis when configured). Past `RATE_LIMIT_AUTH_FAILURES` in a window, what was counted gets
 * 429 for the rest of the window, answered before any lookup.
 *
 * What is counted depends on the failure. A credential we recognise but refuse (a host's
 * worker still using a revoked key) is counted against that credential only: the other
 * workers behind the same address (one NAT) keep working. Anything else (a guessed or
 * malformed key, a token we cannot verify) is counted against the client address, so a flood
 * of guesses is stopped before it reaches the database; while an address is blocked, every
 * request from it is refused, whatever it sends.
 */
@Injectable()
export class AuthFailureLimiter {
  private readonly logger = new Logger(AuthFailureLimiter.name);
  private readonly blockedAddresses = new Map<string, number>();
  private readonly blockedCredentials = new Map<string, number>();

  constructor(
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /**
   * What a presented token is counted as: a digest, never the token itself (the counters may
   * live in Redis).
   */
  static credentialOf(token: string): string {
    return createHash('sha256').update('auth-failures\n').update(token).digest('base64url');
  }

  /**
   * Throws the 429 envelope while this address, or the presented credential, is blocked.
   * `token` is read only when some credential is blocked (a digest costs every request).
   */
  assertAllowed(address: string, token: () => string | undefined): void {
    this.refuseIfBlocked(this.blockedAddresses, address);
    if (this.blockedCredentials.size === 0) return;
    const presented = token();
    if (presented !== undefined) {
      this.refuseIfBlocked(this.blockedCredentials, AuthFailureLimiter.credentialOf(presented));
    }
  }

  /**
   * Counts one failed authentication. Over the limit, what was counted is blocked and the
   * 429 to answer instead of the 401 is returned.
   */
  async recordFailure(caller: FailedCaller): Promise<RateLimitError | undefined> {
    const { windowMs, authFailures } = this.config.rateLimit;
    const [kind, id, blocked] =
      'credential' in caller
        ? (['credential', caller.credential, this.blockedCredentials] as const)
        : (['ip', caller.address, this.blockedAddresses] as const);
    let record;
    try {
      record = await this.storage.increment(
        `rate-limit:auth-failures:${kind}:${id}`,
        windowMs,
        authFailures,
        windowMs,
        'auth-failures',
      );
    } catch {
      return undefined; // fail open, like the other limits (the storage logs the outage)
    }
    if (!record.isBlocked) return undefined;
    if (blocked.size >= MAX_BLOCKED) blocked.clear();
    if (!blocked.has(id)) {
      this.logger.warn(
        kind === 'ip'
          ? { msg: 'too many failed authentications: address blocked for the window', ip: id }
          : { msg: 'too many failed authentications with one refused credential: it is blocked for the window' },
      );
    }
    const seconds = Math.max(1, record.timeToBlockExpire);
    blocked.set(id, Date.now() + seconds * 1000);
    return new RateLimitError(seconds);
  }

  private refuseIfBlocked(blocked: Map<string, number>, id: string): void {
    const until = blocked.get(id);
    if (until === undefined) return;
    const left = until - Date.now();
    if (left > 0) throw new RateLimitError(Math.ceil(left / 1000));
    blocked.delete(id);
  }
}
