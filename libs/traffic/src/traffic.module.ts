import { Global, Module } from '@nestjs/common';
import { ThrottlerModule, type ThrottlerModuleOptions } from '@nestjs/throttler';
import { APP_CONFIG, type AppConfig } from '@credits/config';
import { ClientVersionGuard } from './client-version.guard';
import { AuthFailureLimiter } from './rate-limit/auth-failure-limiter';
import { MemoryThrottlerStorage } from './rate-limit/memory-throttler-storage';
import { RedisThrottlerStorage } from './rate-limit/redis-throttler-storage';
import { RateLimitGuard } from './rate-limit/rate-limit.guard';

function throttlerOptions(
  config: AppConfig,
  storage: RedisThrottlerStorage | MemoryThrottlerStorage,
): ThrottlerModuleOptions {
  const { windowMs, checkout, read, usage, webhook } = config.rateLimit;
  return {
    throttlers: [
      { name: 'checkout', limit: checkout, ttl: windowMs },
      { name: 'read', limit: read, ttl: windowMs },
      { name: 'usage', limit: usage, ttl: windowMs },
      { name: 'webhook', limit: webhook, ttl: windowMs },
    ],
    // Without REDIS_URL each instance counts alone, in the same fixed windows.
    storage,
  };
}

/** Rate limits and the client-version check; the guards are applied per route by the access decorators (`@OrgRole`, `@StripeSignature`). */
@Global()
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        if (!config.redis.url) return throttlerOptions(config, new MemoryThrottlerStorage());
        const storage = new RedisThrottlerStorage(config.redis);
        await storage.connected(config.redis.connectTimeoutMs);
        return throttlerOptions(config, storage);
      },
    }),
  ],
  providers: [RateLimitGuard, ClientVersionGuard, AuthFailureLimiter],
  exports: [RateLimitGuard, ClientVersionGuard, AuthFailureLimiter],
})
export class TrafficModule {}
