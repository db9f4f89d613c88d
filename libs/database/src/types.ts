import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as relations from './relations';
import * as tables from './schema';

/** Tables and relations, as handed to `drizzle()`: what `db.query.*` knows about. */
export const fullSchema = { ...tables, ...relations };
export type FullSchema = typeof fullSchema;

/**
 * The database, whichever driver is behind it (PGlite or node-postgres).
 *
 * On PGlite there is one connection and transactions run one at a time: concurrent
 * `db.transaction()` calls queue. Inside a transaction callback always use `tx`, never
 * `db` — on PGlite a `db` query there waits for the transaction to end, i.e. forever.
 */
export type Db = PgDatabase<PgQueryResultHKT, FullSchema>;

/**
 * A transaction handle as passed to `db.transaction(async (tx) => …)`: the one type every
 * write that joins a caller's transaction takes (`LedgerService.apply`, a repository's `in(tx)`).
 */
export type DbTransaction = Parameters<Parameters<Db['transaction']>[0]>[0];

/** What a subscriber to a NOTIFY channel is told. */
export interface NotificationHandlers {
  /** A notification's payload, after the transaction that sent it committed. */
  notify(payload: string): void;
  /**
   * true once the subscription listens (again); false as soon as its connection is lost.
   * Notifications sent while it was down are gone: a subscriber that keeps state built
   * from the database must drop it on false.
   */
  listening(listening: boolean): void;
}

export interface NotificationSubscription {
  close(): Promise<void>;
}

/** Where log lines go; Nest's `Logger` (the default) fits. */
export interface DatabaseLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface DatabaseOptions {
  /**
   * Empty/undefined: embedded PGlite persisted in `dataDir`. `memory://`: PGlite in memory.
   * `postgres://…` / `postgresql://…`: a PostgreSQL server through a `pg.Pool`.
   */
  url?: string;
  /** The embedded database's directory (created if missing); used only when `url` is empty. */
  dataDir: string;
  /**
   * Where LISTEN connects (PostgreSQL), when `url` cannot carry it: a transaction pooler
   * (PgBouncer in transaction mode) answers LISTEN but delivers nothing. Default: `url`.
   */
  listenUrl?: string;
  /** PostgreSQL pool size. Default 10. */
  poolMax?: number;
  /** PostgreSQL connect timeout. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** PostgreSQL `statement_timeout` per connection. Default 10000 ms. */
  statementTimeoutMs?: number;
  /** PostgreSQL idle client lifetime in the pool. Default 30000 ms. */
  idleTimeoutMs?: number;
  /** Apply pending migrations at open. Default true. */
  migrate?: boolean;
  /** Override where the SQL migrations are read from (default: found from the repository root). */
  migrationsFolder?: string;
  /** Default: Nest's `Logger` with context `Database`. */
  logger?: DatabaseLogger;
  /**
   * The embedded database's `shared_buffers` (unset: PostgreSQL's default, 128MB, for a data
   * directory; 8MB in memory, whose pages are in memory anyway). PGlite zeroes them at every
   * start: a process that opens it for one command (the CLI) starts about 0.3 s sooner with a
   * few MB. Ignored on PostgreSQL.
   */
  pgliteSharedBuffers?: string;
}

export interface DatabaseHandle {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** Runs `select 1`; rejects when the database is unreachable or closed. */
  ping(): Promise<void>;
  /**
   * LISTEN on `channel` (a plain lower-case name): on PostgreSQL through a dedicated
   * connection that reconnects until closed; on PGlite on the one instance. Close it
   * before the handle.
   */
  listen(channel: string, handlers: NotificationHandlers): NotificationSubscription;
  /** Closes the pool or the embedded database and releases the data directory. Idempotent. */
  close(): Promise<void>;
}
