import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerOptions, type ThrottlerRequest } from '@nestjs/throttler';
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
  /** Each handler's budget, read from its metadata once. */
  private readonly budgets = new WeakMap<object, RateLimitBudget>();
  private byName?: Map<string, ThrottlerOptions>;

  /**
   * Counts the request against its route's one budget. (The library's own `canActivate` visits
   * every configured throttler on every request, reading its metadata each time; a route here
   * counts against exactly one, and its limit and window are the module's.)
   */
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    this.byName ??= new Map(this.throttlers.map((throttler) => [throttler.name!, throttler]));
    const throttler = this.byName.get(this.budgetOf(context));
    if (!throttler) throw new InternalError(new Error('RateLimitGuard: a budget with no configured throttler'));
    // TrafficModule configures plain numbers, never functions of the request.
    const ttl = throttler.ttl as number;
    return this.handleRequest({
      context,
      limit: throttler.limit as number,
      ttl,
      throttler,
      blockDuration: (throttler.blockDuration as number | undefined) ?? ttl,
      getTracker: this.commonOptions.getTracker!,
      generateKey: this.commonOptions.generateKey!,
    });
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = props;
    const name = throttler.name!;

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
    const handler = context.getHandler();
    const known = this.budgets.get(handler);
    if (known) return known;
    const declared = this.reflector.getAllAndOverride<RateLimitBudget | undefined>(RATE_LIMIT_BUDGET, [
      handler,
      context.getClass(),
    ]);
    if (!declared) throw new InternalError(new Error('RateLimitGuard on a route that declares no @RateBudget'));
    this.budgets.set(handler, declared);
    return declared;
  }
}
