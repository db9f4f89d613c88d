import { RouteConfig } from '@nestjs/platform-fastify';

/** Route config key read by the app's body-limit hook. */
export const LARGE_BODY = 'largeBody';

/**
 * Lifts the API's 64 KiB body limit for a route to the webhook limit: Stripe's events
 * can be larger than anything a caller of this API sends, and are answered 413 otherwise.
 */
export const AcceptsLargeBody = (): MethodDecorator => RouteConfig({ [LARGE_BODY]: true });
