import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Logger } from '@nestjs/common';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { PoolClient } from 'pg';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock';
import { resolveMigrationsFolder } from './migrations-folder';
import { listenPglite, listenPostgres } from './notification-listener';
import { ReconnectingPool } from './reconnecting-pool';
import { assertPgliteCanRun, getPgliteTemplate } from './pglite-template';
import {
  type DatabaseHandle,
  type DatabaseLogger,
  type DatabaseOptions,
  type Db,
  fullSchema,
  type NotificationHandlers,
  type NotificationSubscription,
} from './types';
import { describePostgresUrl, parseDatabaseUrl } from './url';

const DEFAULT_POOL_MAX = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;
/** How long a pooled connection may sit idle before it is closed (exported for the bench's floors). */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** How long a starting process waits for another one's migration before giving up. */
const MIGRATION_LOCK_TIMEOUT = '120s';
/**
 * An in-memory database's buffer cache: its pages are in memory already, and PGlite zeroes the
 * cache at every start (PostgreSQL's default 128MB: about 0.7 s of a 1.5 s open here).
 */
const MEMORY_SHARED_BUFFERS = '8MB';

/**
 * Opens the database named by `options.url` (see `DatabaseOptions`), applies pending
 * migrations unless `migrate: false`, and returns a handle to close it. Usable without Nest.
 */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const target = parseDatabaseUrl(options.url);
  const logger = options.logger ?? new Logger('Database');
  const migrate = options.migrate ?? true;
  const migrationsFolder = migrate ? (options.migrationsFolder ?? resolveMigrationsFolder()) : undefined;

  switch (target.kind) {
    case 'postgres':
      return openPostgres(target.url, options, logger, migrationsFolder);
    case 'pglite-memory':
      return openPglite(undefined, migrationsFolder, options.pgliteSharedBuffers ?? MEMORY_SHARED_BUFFERS);
    case 'pglite-dir':
      return openPglite(options.dataDir, migrationsFolder, options.pgliteSharedBuffers);
  }
}

async function openPglite(
  dataDir: string | undefined,
  migrationsFolder: string | undefined,
  sharedBuffers: string | undefined,
): Promise<DatabaseHandle> {
  assertPgliteCanRun();
  let lock: DataDirLock | undefined;
  let dir: string | undefined;
  if (dataDir !== undefined) {
    if (dataDir.trim() === '') throw new Error('the embedded database needs a data directory (dataDir is empty)');
    dir = resolve(dataDir);
    mkdirSync(dir, { recursive: true });
    lock = acquireDataDirLock(dir);
  }

  let pglite: PGlite | undefined;
  try {
    // A new database (in memory, or a directory without PG_VERSION) starts from the migrated
    // template instead of running initdb.
    const isNew = dir === undefined || !existsSync(join(dir, 'PG_VERSION'));
    const loadDataDir = migrationsFolder && isNew ? await getPgliteTemplate(migrationsFolder) : undefined;
    const startParams = sharedBuffers
      ? [...PGlite.defaultStartParams, '-c', `shared_buffers=${sharedBuffers}`]
      : undefined;
    pglite = new PGlite({ dataDir: dir, loadDataDir, startParams });
    await pglite.waitReady;
    const db = drizzlePglite(pglite, { schema: fullSchema });
    if (migrationsFolder) await migratePglite(db, { migrationsFolder });

    const client = pglite;
    return handleOf(
      db satisfies Db,
      'pglite',
      client,
      async () => {
        try {
          if (!client.closed) await client.close();
        } finally {
          lock?.release();
        }
      },
      (channel, handlers) => listenPglite(client, channel, handlers),
    );
  } catch (err) {
    if (pglite && !pglite.closed) await pglite.close().catch(() => undefined);
    lock?.release();
    throw err;
  }
}

async function openPostgres(
  url: string,
  options: DatabaseOptions,
  logger: DatabaseLogger,
  migrationsFolder: string | undefined,
): Promise<DatabaseHandle> {
  const where = describePostgresUrl(url);
  const pool = new ReconnectingPool(
    {
      connectionString: url,
      max: options.poolMax ?? DEFAULT_POOL_MAX,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      statement_timeout: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
      application_name: 'credits-api',
      // node-postgres sends a statement at once, not after the previous one's answer: a
      // transaction that issues two together (the debit group) waits for one round trip, not
      // two. Statements awaited one by one run as before. (A transaction's BEGIN goes with its
      // first statement: `ReconnectingPool`.)
      pipeline: true,
    },
    {
      // A restart or failover: the statement runs again on a new connection (ReconnectingPool).
      onRetry: (err) => logger.warn(`PostgreSQL connection lost (${where}): ${err.message}; retrying on a new one`),
    },
  );
  // An idle client whose connection dies (server restart, network) emits here; without a
  // listener Node would crash the process. The pool drops that client and makes a new one.
  pool.on('error', (err) => {
    logger.error(`PostgreSQL idle client error (${where}): ${err.message}`);
  });

  try {
    let first: PoolClient;
    try {
      first = await pool.connect();
    } catch (err) {
      throw new Error(`cannot connect to PostgreSQL at ${where}: ${(err as Error).message}`, { cause: err });
    }
    if (migrationsFolder) await migrateLocked(first, migrationsFolder);
    else first.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }

  const db = drizzleNodePg(pool, { schema: fullSchema });
  const listenConfig = {
    connectionString: options.listenUrl ?? url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    application_name: 'credits-api:listen',
  };
  return handleOf(
    db satisfies Db,
    'postgres',
    pool,
    () => pool.end(),
    (channel, handlers) => listenPostgres(listenConfig, channel, handlers, logger),
  );
}

/** The handle over an open client: `ping` asks it `select 1`; `close` runs `end` once, however often called. */
function handleOf(
  db: Db,
  kind: DatabaseHandle['kind'],
  client: { query(sql: string): Promise<unknown> },
  end: () => Promise<void>,
  listen: (channel: string, handlers: NotificationHandlers) => NotificationSubscription,
): DatabaseHandle {
  let closing: Promise<void> | undefined;
  return {
    db,
    kind,
    listen,
    async ping() {
      await client.query('select 1');
    },
    close() {
      closing ??= end();
      return closing;
    },
  };
}

/**
 * Drizzle's migrator takes no lock: two processes starting together would both apply the
 * same migration. A session-level advisory lock, held on the one connection that migrates,
 * serialises them; the second one then finds nothing left to apply. The connection is
 * discarded afterwards rather than returned to the pool with changed settings.
 */
async function migrateLocked(client: PoolClient, migrationsFolder: string): Promise<void> {
  try {
    await client.query(`set statement_timeout = 0; set lock_timeout = '${MIGRATION_LOCK_TIMEOUT}'`);
    await client.query(`select pg_advisory_lock(hashtext('credits-api:migrations'))`);
    try {
      await migrateNodePg(drizzleNodePg(client), { migrationsFolder });
    } finally {
      await client.query(`select pg_advisory_unlock(hashtext('credits-api:migrations'))`).catch(() => undefined);
    }
  } finally {
    client.release(true);
  }
}
