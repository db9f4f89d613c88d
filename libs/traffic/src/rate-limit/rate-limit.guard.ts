import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerRequest } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InternalError, RateLimitError } from '@credits/errors';
import type { Principal } from '@credits/identity';
import { RATE_LIMIT_BUDGET, RateLimitBudget } from './budgets';

/**
 * `@nestjs/throttler`'s guard, counting each request against the one budget its route
 * declares (`@RateBudget`, see `budgets.ts`), per caller: the API key, else the user (a JWT),
 * else the client address (`TRUST_PROXY` decides whether that is the load balancer's or the
 * client's).
 *
 * Its answers are this API's: the 429 is the envelope, and the headers are the unsuffixed
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) and `Retry-After`
 * (the library would name them after the throttler: `Retry-After-checkout`). When the
 * counters cannot be reached the request is served uncounted (fail open; the storage logs
 * the outage): refusing every purchase because Redis is down would be worse than a window
 * without limits.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = props;
    const name = throttler.name!;
    if (name !== this.budgetOf(context)) return true;

    const { req, res } = this.getRequestResponse(context) as { req: FastifyRequest; res: FastifyReply };
    const key = generateKey(context, await getTracker(req, context), name);
    let record;
    try {
      record = await this.storageService.increment(key, ttl, limit, blockDuration, name);
    } catch {
      return true;
    }
    const headers = {
      'RateLimit-Limit': String(limit),
      'RateLimit-Remaining': String(Math.max(0, limit - record.totalHits)),
      'RateLimit-Reset': String(Math.max(0, record.timeToExpire)),
    };
    if (record.isBlocked) {
      const retryAfter = Math.max(1, record.timeToBlockExpire);
      throw new RateLimitError(retryAfter, {
        ...headers,
        'RateLimit-Remaining': '0',
        'RateLimit-Reset': String(retryAfter),
      });
    }
    void res.headers(headers);
    return true;
  }

  protected override async getTracker(request: FastifyRequest): Promise<string> {
    const principal: Principal | undefined = request.principal;
    if (principal?.apiKeyId) return `key:${principal.apiKeyId}`;
    if (principal) return `user:${principal.callerId}`;
    return `ip:${request.ip}`;
  }

  /** Readable keys, one counter per budget and caller whatever the route (reads share one budget). */
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    // Stripe's deliveries share one budget, whoever sends them.
    return `rate-limit:${name}:${name === 'webhook' ? 'all' : tracker}`;
  }

  private budgetOf(context: ExecutionContext): RateLimitBudget {
    const declared = this.reflector.getAllAndOverride<RateLimitBudget | undefined>(RATE_LIMIT_BUDGET, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!declared) throw new InternalError(new Error('RateLimitGuard on a route that declares no @RateBudget'));
    return declared;
  }
}
