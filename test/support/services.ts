import { randomBytes } from 'node:crypto';
import { openDatabase, type DatabaseHandle } from '@credits/database';
import { createServerDatabase, type TestDatabase } from './database';

/**
 * The PostgreSQL server the process-level tests run against. They need a real server whatever
 * the run (several instances share one database; connections are cut), so they use the CI one
 * even in the PGlite run.
 */
export const POSTGRES_SERVER_URL =
  process.env.TEST_DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';
export const POSTGRES_SERVER = (() => {
  const url = new URL(POSTGRES_SERVER_URL);
  return { host: url.hostname, port: Number(url.port || 5432) };
})();
export const REDIS_SERVER = { host: '127.0.0.1', port: 6379 };

export type PostgresDatabase = TestDatabase;

/** A fresh, migrated database on the PostgreSQL server, dropped by `drop()`. */
export async function createPostgresDatabase(): Promise<PostgresDatabase> {
  // Copied from the migrated template: the tests' own handles open it with migrate: false.
  return createServerDatabase(POSTGRES_SERVER_URL);
}

/** A small pool on a database the tests inspect beside the app (already migrated). */
export async function openTestDb(url: string): Promise<DatabaseHandle> {
  return openDatabase({ url, dataDir: '', migrate: false, poolMax: 2 });
}

/** A key prefix of its own, so parallel runs sharing the machine's Redis never see each other's counters. */
export function uniqueRedisPrefix(): string {
  return `credits-api-test:${randomBytes(6).toString('hex')}:`;
}
