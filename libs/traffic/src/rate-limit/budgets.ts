import { SetMetadata } from '@nestjs/common';

/**
 * The budgets requests are counted against. `checkout`, `read` and `usage` are per caller
 * (`usage` is the host backend metering debits, thousands a second, so its default is large); `webhook`
 * is one budget for every sender together (Stripe's deliveries come from many addresses and
 * must not be refused one sender at a time).
 */
export const RATE_LIMIT_BUDGETS = ['checkout', 'read', 'usage', 'webhook'] as const;
export type RateLimitBudget = (typeof RATE_LIMIT_BUDGETS)[number];

export const RATE_LIMIT_BUDGET = Symbol('rateLimitBudget');

/**
 * Declares the budget a route counts against. Every route RateLimitGuard protects declares
 * one (the access decorators do it: `@OrgRole(role, { budget })`, `@StripeSignature()`); the
 * guard never infers it from the HTTP method, so a new write route cannot slip into the
 * looser read budget unnoticed.
 */
export const RateBudget = (budget: RateLimitBudget): MethodDecorator & ClassDecorator =>
  SetMetadata(RATE_LIMIT_BUDGET, budget);
