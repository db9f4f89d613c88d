import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DATABASE_HANDLE, type DatabaseHandle, type NotificationSubscription } from '@credits/database';
import { CredentialCache } from './credential-cache';
import { CREDENTIALS_CHANNEL, parseCredentialChange } from './credential-changes';

/**
 * Keeps this instance's `CredentialCache` true to the database: LISTENs on
 * `CREDENTIALS_CHANNEL` and drops what each change names. While the listening connection is
 * down the cache neither serves nor stores (see `CredentialCache.setListening`).
 */
@Injectable()
export class CredentialChangeListener implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(CredentialChangeListener.name);
  private subscription?: NotificationSubscription;

  constructor(
    private readonly cache: CredentialCache,
    @Inject(DATABASE_HANDLE) private readonly database: DatabaseHandle,
  ) {}

  onModuleInit(): void {
    this.subscription = this.database.listen(CREDENTIALS_CHANNEL, {
      notify: (payload) => {
        const change = parseCredentialChange(payload);
        if (!change) this.logger.warn({ msg: `unreadable ${CREDENTIALS_CHANNEL} payload; cache cleared`, payload });
        this.cache.invalidate(change);
      },
      listening: (listening) => this.cache.setListening(listening),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.subscription?.close();
  }
}
