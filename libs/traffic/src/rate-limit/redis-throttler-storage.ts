import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { ThrottlerStorage } from '@nestjs/throttler';
import Redis from 'ioredis';
import type { AppConfig } from '@credits/config';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** Where a Redis URL may hide a password: show only where it points. */
function describeRedisUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.hostname}:${parsed.port || 6379}${parsed.pathname === '/' ? '' : parsed.pathname}`;
}

/**
 * Rate-limit counters in Redis, shared by every instance (the counting itself is
 * `@nest-lab/throttler-storage-redis`'s atomic script). Redis is not allowed to take the API
 * down with it: every command is bounded (`REDIS_COMMAND_TIMEOUT_MS`), nothing is queued
 * while disconnected, and a failure throws so the guard serves the request uncounted (fails
 * open). The outage is logged once when it starts and once when it ends, not per request.
 */
export class RedisThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private readonly redis: Redis;
  private readonly counters: ThrottlerStorageRedisService;
  private readonly where: string;
  private readonly keyPrefix: string;
  private down = false;
  private closed = false;

  constructor(config: AppConfig['redis']) {
    this.where = describeRedisUrl(config.url!);
    this.keyPrefix = config.keyPrefix;
    this.redis = new Redis(config.url!, {
      connectTimeout: config.connectTimeoutMs,
      commandTimeout: config.commandTimeoutMs,
      // Fail at once while disconnected instead of queueing requests behind a dead server.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Keep reconnecting for as long as the process lives; requests are served meanwhile.
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    // ioredis emits an error per failed reconnection attempt: one log line per outage.
    this.redis.on('error', (error: Error) => this.markDown(error));
    this.redis.on('ready', () => this.markUp());
    this.counters = new ThrottlerStorageRedisService(this.redis);
  }

  /** Waits (bounded) for the first connection, so the first requests are counted; never fails the start. */
  async connected(timeoutMs: number): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.redis.once('ready', done);
    });
    if ((this.redis.status as string) !== 'ready') {
      this.markDown(new Error(`no connection within ${timeoutMs} ms`));
    }
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    try {
      return await this.counters.increment(this.keyPrefix + key, ttl, limit, blockDuration, throttlerName);
    } catch (error) {
      this.markDown(error as Error);
      // A command that timed out leaves a connection we cannot trust (a half-open socket
      // answers nothing); reconnecting makes the next requests fail open at once instead of
      // each waiting for its own timeout.
      if (/timed out/i.test((error as Error).message) && this.redis.status === 'ready') this.redis.disconnect(true);
      throw error;
    }
  }

  private markDown(error: Error): void {
    if (this.down || this.closed) return;
    this.down = true;
    this.logger.error({
      msg: `Redis at ${this.where} is unreachable: rate limits are OFF (requests are served uncounted) until it answers again`,
      reason: error.message,
    });
  }

  private markUp(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.warn({ msg: `Redis at ${this.where} answers again: rate limits are back on` });
  }

  /** After the HTTP server has drained (Nest runs this hook after closing it). */
  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    if (this.redis.status === 'end') return;
    const quit = this.redis.quit().catch(() => undefined);
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
    await Promise.race([quit, timeout]);
    this.redis.disconnect(false);
  }
}
