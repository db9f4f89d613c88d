/**
 * Against a real PostgreSQL server, in the PostgreSQL pass of `npm test` (`test:postgres`,
 * which sets TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { Client } from 'pg';
import { type DatabaseHandle, type DatabaseLogger, openDatabase, organizations, rows } from '@credits/database';
import { createTestDatabaseUrl, type TestDatabase } from '../support/database';
import { concurrentIncrements } from './counter';
import journal from '../../libs/database/migrations/meta/_journal.json';

const serverUrl = process.env.TEST_DATABASE_URL?.trim();
if (!serverUrl) throw new Error('TEST_DATABASE_URL must name a PostgreSQL server (npm run test:postgres sets it)');

function recordingLogger(): DatabaseLogger & { errors: string[]; warnings: string[]; nextError(): Promise<string> } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const waiting: ((message: string) => void)[] = [];
  return {
    errors,
    warnings,
    log: () => undefined,
    warn: (message: string) => warnings.push(message),
    error(message: string) {
      errors.push(message);
      waiting.splice(0).forEach((resolve) => resolve(message));
    },
    nextError: () => new Promise((resolve) => waiting.push(resolve)),
  };
}

/**
 * Ends these server processes (backends) and waits until they are gone, from another process
 * and synchronously: this one reads none of its sockets meanwhile, so its pool learns of the
 * loss only when it next uses those connections, as a busy process does after a restart.
 */
function terminateFromOutside(url: string, pids: number[]): void {
  const script = `
    const { Client } = require('pg');
    const admin = new Client({ connectionString: process.argv[1] });
    admin.connect()
      .then(() => admin.query('select count(*)::int as n from unnest($1::int[]) pid where pg_terminate_backend(pid, 5000)', [JSON.parse(process.argv[2])]))
      .then((r) => { if (r.rows[0].n !== JSON.parse(process.argv[2]).length) throw new Error('terminated ' + r.rows[0].n); return admin.end(); })
      .catch((e) => { console.error(e.message); process.exit(1); });`;
  const result = spawnSync(process.execPath, ['-e', script, url, JSON.stringify(pids)], {
    cwd: join(__dirname, '..', '..'),
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`could not terminate ${pids.join(', ')}: ${result.stderr}`);
}

/** The server process behind each of `count` connections the pool opens, then keeps idle. */
async function poolBackends(handle: DatabaseHandle, count: number): Promise<number[]> {
  const held = await Promise.all(
    Array.from({ length: count }, () =>
      rows<{ pid: number }>(handle.db, sql`select pg_backend_pid() as pid from pg_sleep(0.2)`),
    ),
  );
  return held.map(([{ pid }]) => pid);
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

  it('runs a statement it repeats as a prepared statement, parsed once on the connection', async () => {
    const one = await openDatabase({ url: database.url, dataDir: 'unused', poolMax: 1, migrate: false });
    try {
      for (let n = 0; n < 5; n++) {
        await rows(one.db, sql`select ${n}::int as n, 'repeated' as tag`);
        await rows(one.db, sql.raw(`select 'without parameters' as tag`));
      }
      await rows(one.db, sql`select ${1}::int as n, 'once' as tag`);
      const prepared = await rows<{ statement: string; runs: number }>(
        one.db,
        sql`select statement, (generic_plans + custom_plans)::int as runs from pg_prepared_statements`,
      );
      // Named from its third run: three runs of one statement parsed once. The one-off text
      // and the one without parameters (the simple protocol) are not prepared.
      expect(prepared.filter((p) => p.statement.includes(' as tag'))).toEqual([
        { statement: expect.stringContaining("'repeated'"), runs: 3 },
      ]);
    } finally {
      await one.close();
    }
  });

  it('keeps running a prepared statement after a run whose parameter node-postgres could not send', async () => {
    const one = await openDatabase({ url: database.url, dataDir: 'unused', poolMax: 1, migrate: false });
    try {
      const run = (value: unknown) =>
        one.db.transaction((tx) => rows<{ v: unknown }>(tx, sql`select ${value}::jsonb as v, 'kept' as tag`));
      for (let n = 0; n < 4; n++) await run(JSON.stringify({ n }));
      // JSON.stringify throws on a BigInt: node-postgres then closes the named statement on
      // the server while still counting it as prepared on the connection.
      await expect(run({ big: 1n })).rejects.toMatchObject({ cause: { message: expect.stringContaining('BigInt') } });
      expect(await run(JSON.stringify({ n: 5 }))).toEqual([{ v: { n: 5 }, tag: 'kept' }]);
    } finally {
      await one.close();
    }
  });

  it("sends a transaction's BEGIN with its first statement, which runs inside the transaction", async () => {
    const one = await openDatabase({ url: database.url, dataDir: 'unused', poolMax: 1, migrate: false });
    try {
      const [{ pid }] = await rows<{ pid: number }>(one.db, sql`select pg_backend_pid() as pid`);
      const activity = async () =>
        (
          await rows<{ state: string; query: string; since: string }>(
            handle.db,
            sql`select state, query, state_change::text as since from pg_stat_activity where pid = ${pid}`,
          )
        )[0];
      const state = async () => (await activity()).state;
      const failure = await one.db
        .transaction(async (tx) => {
          // BEGIN was answered without a round trip: the server has not seen it yet.
          expect(await state()).toBe('idle');
          await tx.insert(organizations).values({ slug: 'begun-with-first', name: 'Begun' });
          expect(await state()).toBe('idle in transaction');
          throw new Error('roll it back');
        })
        .catch((error: Error) => error);
      expect(failure).toMatchObject({ message: 'roll it back' });
      // The insert went out with the BEGIN, after it: the ROLLBACK undid it.
      const kept = await handle.db.select().from(organizations).where(eq(organizations.slug, 'begun-with-first'));
      expect(kept).toEqual([]);
      // A transaction that runs no statement sends nothing, and ends: the connection's last
      // statement is still the ROLLBACK above, unchanged since.
      const before = await activity();
      expect(before).toMatchObject({ state: 'idle', query: 'rollback' });
      expect(await one.db.transaction(async () => 'empty')).toBe('empty');
      expect(await activity()).toEqual(before);
    } finally {
      await one.close();
    }
  });

  it('logs an idle client whose connection dies, and keeps serving', async () => {
    const own = recordingLogger();
    const pooled = await openDatabase({ url: database.url, dataDir: 'unused', migrate: false, logger: own });
    try {
      // Its one connection, idle in the pool afterwards.
      const [pid] = await poolBackends(pooled, 1);
      const logged = own.nextError();
      const admin = new Client({ connectionString: database.url });
      await admin.connect();
      try {
        await admin.query('select pg_terminate_backend($1)', [pid]);
      } finally {
        await admin.end();
      }
      expect(await logged).toMatch(/^PostgreSQL idle client error/);
      await pooled.ping();
    } finally {
      await pooled.close();
    }
  });

  describe('when the server ends the connections (a restart, a failover)', () => {
    let pooled: DatabaseHandle;
    let own: ReturnType<typeof recordingLogger>;

    beforeEach(async () => {
      own = recordingLogger();
      pooled = await openDatabase({ url: database.url, dataDir: 'unused', migrate: false, logger: own });
    });
    afterEach(() => pooled.close());

    it('runs the next statement, transaction and readiness check again on new connections', async () => {
      terminateFromOutside(database.url, await poolBackends(pooled, 4));

      // Each of these is handed one of the dead connections first.
      const [read, write, transaction] = await Promise.all([
        rows<{ one: number }>(pooled.db, sql`select 1 as one`),
        pooled.db.insert(organizations).values({ slug: 'restarted', name: 'Restarted' }).returning(),
        pooled.db.transaction(async (tx) => {
          await tx.insert(organizations).values({ slug: 'restarted-tx', name: 'Restarted' });
          return tx.select().from(organizations).where(eq(organizations.slug, 'restarted-tx'));
        }),
        pooled.ping(),
      ]);

      expect(read).toEqual([{ one: 1 }]);
      expect(write).toHaveLength(1);
      expect(transaction).toHaveLength(1);
      const written = await pooled.db.select().from(organizations);
      expect(
        written
          .map((o) => o.slug)
          .filter((slug) => slug.startsWith('restarted'))
          .sort(),
      ).toEqual(['restarted', 'restarted-tx']);
      expect(own.warnings).toHaveLength(4);
      for (const warning of own.warnings)
        expect(warning).toMatch(/^PostgreSQL connection lost .*terminating connection due to administrator command/);
    });

    it('runs a transaction whose first two statements went out with its BEGIN again, together, on a new connection', async () => {
      const [org] = await handle.db.insert(organizations).values({ slug: 'opening', name: 'Opening' }).returning();
      terminateFromOutside(database.url, await poolBackends(pooled, 1));

      // As the debit group does: its locks and its snapshot sent at once, behind the BEGIN.
      const [locked, written] = await pooled.db.transaction((tx) =>
        Promise.all([
          tx.execute(sql`select id from ${organizations} where id = ${org.id} for update`),
          tx.insert(organizations).values({ slug: 'opening-again', name: 'Opening' }).returning(),
        ]),
      );

      expect((locked as unknown as { rows: unknown[] }).rows).toEqual([{ id: org.id }]);
      expect(written).toHaveLength(1);
      expect(own.warnings).toHaveLength(1);
      expect(own.warnings[0]).toMatch(
        /^PostgreSQL connection lost .*terminating connection due to administrator command/,
      );
      const kept = await handle.db.select().from(organizations).where(eq(organizations.slug, 'opening-again'));
      expect(kept).toHaveLength(1);
    });

    it('fails a transaction that loses its connection past its first statement, once, and serves the next one', async () => {
      let runs = 0;
      const failure = await pooled.db
        .transaction(async (tx) => {
          runs++;
          await tx.insert(organizations).values({ slug: 'lost-tx', name: 'Lost' });
          const [{ pid }] = (
            (await tx.execute(sql`select pg_backend_pid() as pid`)) as unknown as { rows: { pid: number }[] }
          ).rows;
          terminateFromOutside(database.url, [pid]);
          await tx.insert(organizations).values({ slug: 'lost-tx-2', name: 'Lost' });
        })
        .catch((error: Error) => error);

      // The server's own word for it, which the API answers 503 (not the ROLLBACK's failure).
      expect(failure).toMatchObject({ cause: { code: '57P01' } });
      expect(runs).toBe(1);
      expect(own.warnings).toEqual([]);
      expect(await pooled.db.select().from(organizations).where(eq(organizations.slug, 'lost-tx'))).toEqual([]);
      await pooled.db.transaction((tx) => tx.insert(organizations).values({ slug: 'after-lost-tx', name: 'After' }));
      await pooled.ping();
    });

    it('fails both statements a transaction sent together when it loses the connection, holding nothing after', async () => {
      // The debit group sends two statements at once on a pipelining pool. Its connection dies
      // while the first waits for a row lock: neither may be run again on a new connection,
      // where it would take the lock inside a transaction nobody ends.
      const [org] = await handle.db.insert(organizations).values({ slug: 'pipelined-lost', name: 'P' }).returning();
      let releaseHolder!: () => void;
      const holderDone = new Promise<void>((resolve) => (releaseHolder = resolve));
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const holder = handle.db.transaction(async (tx) => {
        await tx.execute(sql`select 1 from ${organizations} where id = ${org.id} for update`);
        holding();
        await holderDone;
      });
      await held;
      try {
        const failure = pooled.db
          .transaction(async (tx) => {
            await Promise.all([
              tx.execute(sql`select 1 from ${organizations} where id = ${org.id} for update`),
              tx.execute(sql`select 2`),
            ]);
          })
          .catch((error: Error) => error);
        let settled = false;
        void failure.then(() => (settled = true));
        let waiting: Array<{ pid: number }> = [];
        while (waiting.length === 0 && !settled) {
          waiting = await rows<{ pid: number }>(
            handle.db,
            sql`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'
              and query like '%for update%' and pid <> pg_backend_pid()`,
          );
        }
        expect(waiting).toHaveLength(1);
        terminateFromOutside(database.url, [waiting[0].pid]);

        expect(await failure).toMatchObject({ cause: { code: '57P01' } });
        expect(own.warnings).toEqual([]); // no statement was run again
        const pool = (pooled.db as unknown as { $client: { totalCount: number; idleCount: number } }).$client;
        // Every connection is back in the pool: none was taken to run the lock again.
        expect(pool.totalCount - pool.idleCount).toBe(0);
      } finally {
        releaseHolder();
        await holder;
      }
      await pooled.db.transaction((tx) =>
        tx.execute(sql`select 1 from ${organizations} where id = ${org.id} for update nowait`),
      );
    });
  });

  it('migrates once when several processes start on a fresh database at the same time', async () => {
    const fresh = await createTestDatabaseUrl({ empty: true });
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
