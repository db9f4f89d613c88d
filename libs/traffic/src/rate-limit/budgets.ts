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
 * Chooses a route's budget. Without it a route counts against `read` when it is a GET or
 * HEAD and against `checkout` (the tighter, write budget) otherwise.
 */
export const RateLimitBudgetOf = (budget: RateLimitBudget): MethodDecorator & ClassDecorator =>
  SetMetadata(RATE_LIMIT_BUDGET, budget);
