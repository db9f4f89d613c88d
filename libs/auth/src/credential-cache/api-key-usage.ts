import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '@credits/config';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';

/**
 * `api_keys.last_used_at`, written in batches: the keys used since the last flush get one
 * UPDATE every `lastUsedFlushMs` (and one at shutdown), instead of a write per key per
 * request. The column is as precise as the flush interval.
 */
@Injectable()
export class ApiKeyUsage implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(ApiKeyUsage.name);
  private used = new Set<string>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly keys: ApiKeysRepository,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  record(keyId: string): void {
    this.used.add(keyId);
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.config.credentialCache.lastUsedFlushMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** Writes the keys used so far. Best effort: a failed bookkeeping write fails no request. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.used.size === 0) return;
      const ids = [...this.used];
      this.used = new Set();
      const now = new Date();
      try {
        await this.keys.touchLastUsed(ids, now);
      } catch (err) {
        this.logger.warn({ msg: 'could not record API key use', keys: ids.length, err });
      }
    });
    return this.flushing;
  }
}
