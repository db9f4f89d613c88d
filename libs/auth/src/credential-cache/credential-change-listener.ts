import { randomUUID } from 'node:crypto';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import {
  DATABASE_HANDLE,
  type DatabaseHandle,
  type Db,
  InjectDb,
  type NotificationSubscription,
} from '@credits/database';
import { CredentialCache } from './credential-cache';
import { CREDENTIALS_CHANNEL, parseCredentialMessage, sendCredentialProbe } from './credential-changes';

/** How long a probe may take to come back before the listener is reported deaf. */
const PROBE_TIMEOUT_MS = 3_000;
/** How often a deaf listener probes again (quietly: the first warning said it all). */
const REPROBE_MS = 30_000;

/**
 * Keeps this instance's `CredentialCache` true to the database: LISTENs on
 * `CREDENTIALS_CHANNEL` and drops what each change names.
 *
 * A LISTEN connection can look healthy and hear nothing: behind a transaction pooler
 * (PgBouncer in transaction mode) the session that ran LISTEN is not the one that waits,
 * so notifications go nowhere. So listening is not trusted until proven: once LISTEN
 * succeeds, a probe is sent through the pool, as every change is, and the cache serves only
 * once the probe has come back. A probe that does not come back is a loud warning at boot
 * (set `DATABASE_LISTEN_URL` to a direct connection); the cache then stays off, and every
 * request is checked against the database. While the connection is down the cache neither
 * serves nor stores (see `CredentialCache.setListening`).
 */
@Injectable()
export class CredentialChangeListener implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(CredentialChangeListener.name);
  private subscription?: NotificationSubscription;
  private probe?: { id: string; timer: NodeJS.Timeout };
  private deaf = false;

  constructor(
    private readonly cache: CredentialCache,
    @Inject(DATABASE_HANDLE) private readonly database: DatabaseHandle,
    @InjectDb() private readonly db: Db,
  ) {}

  onModuleInit(): void {
    this.subscription = this.database.listen(CREDENTIALS_CHANNEL, {
      notify: (payload) => this.received(payload),
      listening: (listening) => (listening ? this.prove() : this.lost()),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearTimeout(this.probe?.timer);
    this.probe = undefined;
    await this.subscription?.close();
  }

  private received(payload: string): void {
    const message = parseCredentialMessage(payload);
    if (!message) {
      this.logger.warn({ msg: `unreadable ${CREDENTIALS_CHANNEL} payload; cache cleared`, payload });
      return this.cache.invalidate(undefined);
    }
    if ('change' in message) return this.cache.invalidate(message.change);
    if (message.probe !== this.probe?.id) return; // another instance's, or an old one of ours
    clearTimeout(this.probe.timer);
    this.probe = undefined;
    if (this.deaf) this.logger.warn({ msg: 'credential change notifications arrive now: credential cache on' });
    this.deaf = false;
    this.cache.setListening(true);
  }

  /** Listening (again): the cache waits for a probe sent through the pool to come back. */
  private prove(): void {
    clearTimeout(this.probe?.timer);
    const id = randomUUID();
    const timer = setTimeout(() => this.unproven(id), PROBE_TIMEOUT_MS).unref();
    this.probe = { id, timer };
    sendCredentialProbe(this.db, id).catch((err: Error) =>
      this.logger.warn({ msg: 'could not send the credential cache probe; retrying', reason: err.message }),
    );
  }

  private unproven(id: string): void {
    if (this.probe?.id !== id) return;
    if (!this.deaf) {
      this.logger.warn({
        msg:
          `NOTIFY on ${CREDENTIALS_CHANNEL} does not reach this instance's LISTEN connection ` +
          `(a transaction pooler between it and PostgreSQL?): revoked keys and membership changes ` +
          `could not be heard, so the credential cache stays OFF. Set DATABASE_LISTEN_URL to a direct ` +
          `connection to the same database.`,
        timeout_ms: PROBE_TIMEOUT_MS,
      });
    }
    this.deaf = true;
    this.probe = { id, timer: setTimeout(() => this.prove(), REPROBE_MS).unref() };
  }

  private lost(): void {
    clearTimeout(this.probe?.timer);
    this.probe = undefined;
    this.cache.setListening(false);
  }
}
