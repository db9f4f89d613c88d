import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  type ThrottlerModuleOptions,
  type ThrottlerOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InternalError, RateLimitError } from '@credits/errors';
import type { Principal } from '@credits/identity';
import { RATE_LIMIT_BUDGET, RateLimitBudget } from './budgets';
import { MemoryThrottlerStorage } from './memory-throttler-storage';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Counts each request against the one budget its route declares (`@RateBudget`, see
 * `budgets.ts`), per caller: the API key, else the user (a JWT), else the client address
 * (`TRUST_PROXY` decides whether that is the load balancer's or the client's). The budgets
 * and the counters are `@nestjs/throttler`'s (`TrafficModule` configures them: in Redis, or in
 * this process).
 *
 * Not the library's `ThrottlerGuard`: that one visits every configured throttler on every
 * request, reading its metadata each time, and always answers with a promise; a route here
 * counts against exactly one budget, read once per handler, and with the counters in this
 * process the answer is a plain boolean, which costs Nest no promise.
 *
 * Its answers are this API's: the 429 is the envelope, and the headers are the unsuffixed
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) and `Retry-After`
 * (the library would name them after the throttler: `Retry-After-checkout`). When the
 * counters cannot be reached the request is served uncounted (fail open; the storage logs
 * the outage): refusing every purchase because Redis is down would be worse than a window
 * without limits.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  /** Each handler's budget, read from its metadata once. */
  private readonly budgets = new WeakMap<object, ThrottlerOptions>();
  private readonly byName: Map<string, ThrottlerOptions>;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    private readonly reflector: Reflector,
  ) {
    const throttlers = Array.isArray(options) ? options : options.throttlers;
    this.byName = new Map(
      throttlers.map((throttler) => {
        const name = throttler.name ?? 'default';
        return [name, { ...throttler, name }];
      }),
    );
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const throttler = this.budgetOf(context);
    // TrafficModule configures plain numbers, never functions of the request.
    const ttl = throttler.ttl as number;
    const limit = throttler.limit as number;
    const blockDuration = (throttler.blockDuration as number | undefined) ?? ttl;
    const name = throttler.name!;
    const http = context.switchToHttp();
    const key = keyOf(name, http.getRequest<FastifyRequest>());
    const reply = http.getResponse<FastifyReply>();
    if (this.storage instanceof MemoryThrottlerStorage) {
      return admit(reply, limit, this.storage.count(key, ttl, limit, blockDuration, name));
    }
    try {
      return this.storage.increment(key, ttl, limit, blockDuration, name).then(
        (record) => admit(reply, limit, record),
        () => true,
      );
    } catch {
      return true; // a storage that fails before it even answers: fail open all the same
    }
  }

  private budgetOf(context: ExecutionContext): ThrottlerOptions {
    const handler = context.getHandler();
    const known = this.budgets.get(handler);
    if (known) return known;
    const declared = this.reflector.getAllAndOverride<RateLimitBudget | undefined>(RATE_LIMIT_BUDGET, [
      handler,
      context.getClass(),
    ]);
    if (!declared) throw new InternalError(new Error('RateLimitGuard on a route that declares no @RateBudget'));
    const throttler = this.byName.get(declared);
    if (!throttler)
      throw new InternalError(new Error(`RateLimitGuard: no throttler configured for budget ${declared}`));
    this.budgets.set(handler, throttler);
    return throttler;
  }
}

/** Readable keys, one counter per budget and caller whatever the route (reads share one budget). */
function keyOf(budget: string, request: FastifyRequest): string {
  // Stripe's deliveries share one budget, whoever sends them.
  return `rate-limit:${budget}:${budget === 'webhook' ? 'all' : trackerOf(request)}`;
}

/** The caller a request counts against: its API key, else its user (a JWT), else its address. */
function trackerOf(request: FastifyRequest): string {
  const principal: Principal | undefined = request.principal;
  if (principal?.apiKeyId) return `key:${principal.apiKeyId}`;
  if (principal) return `user:${principal.callerId}`;
  return `ip:${request.ip}`;
}

/** Lets the request through with its RateLimit headers, or refuses it with the 429. */
function admit(reply: FastifyReply, limit: number, record: ThrottlerStorageRecord): true {
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
  void reply.headers(headers);
  return true;
}
