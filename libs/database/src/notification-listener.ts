import type { PGlite } from '@electric-sql/pglite';
import { Client, type ClientConfig } from 'pg';
import type { DatabaseLogger, NotificationHandlers, NotificationSubscription } from './types';

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;
/**
 * A connection that dies without a FIN or RST (a partition, a dead host) is noticed only
 * when something is sent on it: the heartbeat bounds how long a dead listener looks alive.
 */
const HEARTBEAT_MS = 5_000;
const HEARTBEAT_TIMEOUT_MS = 3_000;

export function assertChannel(channel: string): void {
  if (!CHANNEL.test(channel)) throw new Error(`not a plain channel name: ${channel}`);
}

/**
 * LISTEN on a dedicated connection of its own: a pooled one would be handed to other
 * queries, and its LISTEN would end with its session. Reconnects with backoff until closed.
 */
export function listenPostgres(
  config: ClientConfig,
  channel: string,
  handlers: NotificationHandlers,
  logger: DatabaseLogger,
): NotificationSubscription {
  assertChannel(channel);
  let closed = false;
  let client: Client | undefined;
  let retryMs = RETRY_MIN_MS;
  let retryTimer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  const lost = (from: Client, reason: string) => {
    if (client !== from) return;
    client = undefined;
    clearInterval(heartbeat);
    handlers.listening(false);
    from.removeAllListeners('notification');
    from.end().catch(() => undefined);
    if (closed) return;
    logger.warn(`LISTEN ${channel}: connection lost (${reason}); reconnecting in ${retryMs} ms`);
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  };

  const connect = () => {
    retryTimer = undefined;
    if (closed) return;
    const next = new Client({ ...config, keepAlive: true, query_timeout: HEARTBEAT_TIMEOUT_MS });
    client = next;
    next.on('error', (err) => lost(next, err.message));
    next.on('end', () => lost(next, 'connection ended'));
    next.on('notification', (message) => {
      if (client === next && message.channel === channel) handlers.notify(message.payload ?? '');
    });
    next
      .connect()
      .then(() => next.query(`listen ${channel}`))
      .then(() => {
        if (client !== next) return;
        retryMs = RETRY_MIN_MS;
        heartbeat = setInterval(() => {
          next.query('select 1').catch((err: Error) => lost(next, `heartbeat: ${err.message}`));
        }, HEARTBEAT_MS);
        heartbeat.unref();
        handlers.listening(true);
      })
      .catch((err: Error) => lost(next, err.message));
  };

  connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      const current = client;
      if (current) {
        lost(current, 'closed');
        await current.end().catch(() => undefined);
      }
    },
  };
}

/**
 * PGlite: one process owns the data, so every writer is in this process, on this very
 * instance, and its notifications arrive here after their transaction commits. It never
 * disconnects.
 */
export function listenPglite(
  pglite: PGlite,
  channel: string,
  handlers: NotificationHandlers,
): NotificationSubscription {
  assertChannel(channel);
  let closed = false;
  const subscribed = pglite
    .listen(channel, (payload) => handlers.notify(payload))
    .then(
      (unlisten) => {
        if (!closed) handlers.listening(true);
        return unlisten;
      },
      () => undefined,
    );
  return {
    async close() {
      closed = true;
      handlers.listening(false);
      const unlisten = await subscribed;
      if (unlisten && !pglite.closed) await unlisten().catch(() => undefined);
    },
  };
}
