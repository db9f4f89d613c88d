export * from './client-version.guard';
export * from './deadline';
export * from './rate-limit/auth-failure-limiter';
export * from './rate-limit/budgets';
export * from './rate-limit/decorators';
export * from './rate-limit/rate-limit.guard';
export * from './rate-limit/redis-throttler-storage';
export * from './traffic.module';
