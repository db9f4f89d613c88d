/**
 * Against a real PostgreSQL server, in the PostgreSQL pass of `npm test` (`test:postgres`,
 * which sets TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres).
 */
import { type DatabaseHandle, type DatabaseLogger, openDatabase, organizations, rows } from '@credits/database';
import { sql } from 'drizzle-orm';
import { Client } from 'pg';
import { createTestDatabaseUrl, type TestDatabase } from '../support/database';
import { concurrentIncrements } from './counter';
import journal from '../../libs/database/migrations/meta/_journal.json';

const serverUrl = process.env.TEST_DATABASE_URL?.trim();
if (!serverUrl) throw new Error('TEST_DATABASE_URL must name a PostgreSQL server (npm run test:postgres sets it)');

function recordingLogger(): DatabaseLogger & { errors: string[] } {
  const errors: string[] = [];
  return { errors, log: () => undefined, warn: () => undefined, error: (message: string) => errors.push(message) };
}

describe('PostgreSQL (TEST_DATABASE_URL)', () => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  const logger = recordingLogger();

  beforeAll(async () => {
    database = await createTestDatabaseUrl();
    handle = await openDatabase({ url: database.url, dataDir: 'unused', logger });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  it('is migrated and answers', async () => {
    expect(handle.kind).toBe('postgres');
    await handle.ping();
    const tables = await rows<{ table_name: string }>(
      handle.db,
      sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
    );
    expect(tables.map((t) => t.table_name)).toContain('credit_ledger');
    await handle.db.insert(organizations).values({ slug: 'acme', name: 'Acme' });
    expect(await handle.db.query.organizations.findMany()).toHaveLength(1);
  });

  it('keeps 20 concurrent read-modify-write transactions exact with SELECT … FOR UPDATE', async () => {
    expect(await concurrentIncrements(handle.db, { forUpdate: true })).toBe(20);
  });

  it('applies statement_timeout to every pooled connection', async () => {
    const short = await openDatabase({ url: database.url, dataDir: 'unused', statementTimeoutMs: 100, migrate: false });
    try {
      // Drizzle wraps the driver's error; 57014 = query_canceled ("canceling statement due to statement timeout").
      await expect(short.db.execute(sql`select pg_sleep(2)`)).rejects.toMatchObject({ cause: { code: '57014' } });
      await short.ping();
    } finally {
      await short.close();
    }
  });

  it('logs an idle client whose connection dies, and keeps serving', async () => {
    await handle.ping(); // leaves an idle client in the pool
    const admin = new Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and application_name = 'credits-api' and pid <> pg_backend_pid()`,
      );
    } finally {
      await admin.end();
    }
    for (let i = 0; i < 50 && logger.errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(logger.errors[0]).toMatch(/^PostgreSQL idle client error/);
    await handle.ping();
  });

  it('migrates once when several processes start on a fresh database at the same time', async () => {
    const fresh = await createTestDatabaseUrl();
    const handles: DatabaseHandle[] = [];
    try {
      const opened = await Promise.allSettled(
        [1, 2, 3].map(() => openDatabase({ url: fresh.url, dataDir: 'unused', poolMax: 2 })),
      );
      for (const result of opened) if (result.status === 'fulfilled') handles.push(result.value);
      expect(opened.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      const applied = await rows<{ n: number }>(
        handles[0].db,
        sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
      );
      expect(applied[0].n).toBe(journal.entries.length);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
      await fresh.drop();
    }
  });

  it('reports an unreachable server in one line, without the password', async () => {
    const url = 'postgres://someone:s3cret@127.0.0.1:1/credits';
    const error = await openDatabase({ url, dataDir: 'unused', connectTimeoutMs: 1000 }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^cannot connect to PostgreSQL at 127\.0\.0\.1:1\/credits: /);
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('closes once, however often close() is called', async () => {
    const other = await openDatabase({ url: database.url, dataDir: 'unused', migrate: false });
    await Promise.all([other.close(), other.close()]);
    await other.close();
    await expect(other.ping()).rejects.toThrow();
  });
});
