import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sql } from 'drizzle-orm';
import { Client } from 'pg';
import { getPgliteTemplate, openDatabase, resolveMigrationsFolder, type Db } from '@credits/database';
import { until } from './until';

/** Where the migrated PGlite template is kept between Jest workers and runs. */
export const PGLITE_TEMPLATE_CACHE_DIR = join(tmpdir(), 'credits-api-test-cache');

export interface TestDatabase {
  /** A `DATABASE_URL` for `openDatabase()` / the app config. */
  url: string;
  /** Drops the database (PostgreSQL); a no-op in memory. */
  drop(): Promise<void>;
}

/**
 * A fresh, empty database for one test (suite).
 *
 * - `TEST_DATABASE_URL` set (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): a new
 *   database `credits_test_<run>_<random>` on that server; `drop()` disconnects it, and drops
 *   it at once outside a Jest run (inside one, the run's teardown drops them all).
 * - otherwise `memory://`: every `openDatabase()` on it is a new in-memory PGlite loaded
 *   from a migrated template (~1.2 s instead of ~4.5 s for initdb); the template is cached
 *   on disk in `PGLITE_TEMPLATE_CACHE_DIR`, so only the very first run builds it.
 */
export async function createTestDatabaseUrl(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL?.trim();
  if (!serverUrl) {
    await primePgliteTemplate();
    return { url: 'memory://', drop: async () => undefined };
  }
  return createServerDatabase(serverUrl, options);
}

/**
 * A new database `credits_test_<run>_<random>` on the PostgreSQL server at `serverUrl`, copied
 * from a migrated template (`empty`: not migrated, for tests of migrating); `drop()` disconnects
 * it and, outside a Jest run, drops it.
 *
 * Inside a run (`test/support/run/setup.js` names it in CREDITS_TEST_RUN) the databases are
 * dropped together by the run's teardown: on PostgreSQL 15 every DROP DATABASE forces an
 * immediate checkpoint of the whole server, and one per suite, while other suites write, cost
 * each dropping suite ~0.4 s and the machine a good share of its CPU.
 */
export async function createServerDatabase(serverUrl: string, { empty = false } = {}): Promise<TestDatabase> {
  const run = process.env.CREDITS_TEST_RUN;
  const name = `credits_test_${run ? `${run}_` : ''}${randomBytes(6).toString('hex')}`;
  const template = empty ? undefined : await migratedTemplate(serverUrl);
  await withAdminClient(serverUrl, (admin) =>
    admin.query(`create database ${name}${template ? ` template ${template}` : ''}`),
  );
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop() {
      dropped ??= withAdminClient(serverUrl, async (admin) => {
        await admin.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
          [name],
        );
        if (!run) await admin.query(`drop database if exists ${name}`);
      });
      return dropped;
    },
  };
}

/** A fresh, migrated database, opened: for a suite of repository ("medium") tests. */
export async function openTestDatabase(): Promise<{ db: Db; close(): Promise<void> }> {
  const database = await createTestDatabaseUrl();
  const handle = await openDatabase({ url: database.url, dataDir: 'unused' });
  return {
    db: handle.db,
    async close() {
      await handle.close();
      await database.drop();
    },
  };
}

/**
 * Loads (or builds once) the migrated PGlite template that `memory://` databases start from.
 * Jest's workers start their first PGlite suites together: one builds the template (initdb and
 * every migration, seconds of CPU) while the others wait for its file instead of building their own.
 */
export async function primePgliteTemplate(): Promise<void> {
  await withBuildLock(join(PGLITE_TEMPLATE_CACHE_DIR, 'pglite-template.lock'), () =>
    getPgliteTemplate(resolveMigrationsFolder(), { cacheDir: PGLITE_TEMPLATE_CACHE_DIR }),
  );
}

/** A lock older than this was left by a process that died while building: taken over. */
const STALE_LOCK_MS = 120_000;

/** Runs `build` holding a lock directory (mkdir is atomic), waiting while another process holds it. */
async function withBuildLock<T>(lock: string, build: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(lock), { recursive: true });
  const take = () => {
    try {
      mkdirSync(lock);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      return false;
    }
  };
  await until(`the lock ${lock}`, take, 2 * STALE_LOCK_MS);
  try {
    return await build();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Empties every application table (for suites that share one database between tests). */
export async function truncateAll(db: Db): Promise<void> {
  await db.execute(sql`
    truncate table credit_ledger, credit_balances, checkout_sessions, idempotency_keys, stripe_events,
      api_keys, memberships, users, organizations
    restart identity cascade`);
}

let template: Promise<string> | undefined;

/**
 * The migrated database suites are copied from (`CREATE DATABASE … TEMPLATE`), one per set of
 * migrations, kept on the server between runs: a suite then starts with no migration to run.
 * Built once per worker that finds it missing; a worker that loses the race to name it drops
 * its own copy.
 */
function migratedTemplate(serverUrl: string): Promise<string> {
  template ??= (async () => {
    const name = `credits_template_${migrationsDigest()}`;
    const found = await withAdminClient(serverUrl, (admin) =>
      admin.query('select 1 from pg_database where datname = $1', [name]),
    );
    if (found.rowCount) return name;
    const building = `credits_building_${randomBytes(6).toString('hex')}`;
    await withAdminClient(serverUrl, (admin) => admin.query(`create database ${building}`));
    const url = new URL(serverUrl);
    url.pathname = `/${building}`;
    const handle = await openDatabase({ url: url.toString(), dataDir: 'unused', poolMax: 1 });
    await handle.close();
    await withAdminClient(serverUrl, async (admin) => {
      try {
        await admin.query(`alter database ${building} rename to ${name}`);
      } catch (error) {
        await admin.query(`drop database if exists ${building}`);
        // 42P04 duplicate_database: another worker named its copy first.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    });
    return name;
  })();
  return template;
}

/** What the migrations are: a template is reused only while they are unchanged. */
function migrationsDigest(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(entry).update(readFileSync(path));
    }
  };
  walk(resolveMigrationsFolder());
  return hash.digest('hex').slice(0, 16);
}

async function withAdminClient<T>(serverUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
