import { SetMetadata } from '@nestjs/common';

/**
 * The budgets requests are counted against. `checkout` and `read` are per caller; `webhook`
 * is one budget for every sender together (Stripe's deliveries come from many addresses and
 * must not be refused one sender at a time).
 */
export const RATE_LIMIT_BUDGETS = ['checkout', 'read', 'webhook'] as const;
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
