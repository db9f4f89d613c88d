import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiErrorResponses } from '@credits/errors';
import { RateBudget } from './budgets';
import { RateLimitGuard } from './rate-limit.guard';

/**
 * For Stripe's webhook: no per-caller limit (a burst of deliveries must not be refused),
 * one generous budget shared by every sender (`RATE_LIMIT_WEBHOOK`), which only protects
 * the database from a flood. Stripe retries a 429 later, so nothing is lost.
 */
export const WebhookRateLimit = (): MethodDecorator =>
  applyDecorators(RateBudget('webhook'), UseGuards(RateLimitGuard), ApiErrorResponses('rate_limit_error'));
