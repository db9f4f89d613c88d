import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '@credits/database';
import { runCli } from '../../apps/api/src/cli/run-cli';
import { createTestDatabaseUrl, primePgliteTemplate } from '../support/database';

/**
 * The buffer cache the CLI opens an embedded database with (apps/api/src/cli/cli.module.ts),
 * for the opens here too: PGlite zeroes it at every start, and each one reads a few pages.
 */
const CLI_SHARED_BUFFERS = '8MB';

export interface CliDatabase {
  /** What the CLI reads: `DATABASE_URL` or `DATA_DIR`. */
  env: NodeJS.ProcessEnv;
  /** The same database opened here, for a look or a change behind the CLI's back. */
  withDb<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  drop(): Promise<void>;
}

/**
 * A database of its own for CLI runs: a new PostgreSQL database with TEST_DATABASE_URL,
 * otherwise an embedded PGlite in a temporary data directory (an in-memory one would not
 * outlive a command), migrated here from the cached template so no command pays initdb.
 */
export async function cliDatabase(): Promise<CliDatabase> {
  let env: NodeJS.ProcessEnv;
  let drop: () => Promise<void>;
  if (process.env.TEST_DATABASE_URL?.trim()) {
    const database = await createTestDatabaseUrl();
    env = { DATABASE_URL: database.url };
    drop = () => database.drop();
  } else {
    await primePgliteTemplate();
    const dataDir = mkdtempSync(join(tmpdir(), 'credits-cli-'));
    await (await openDatabase({ dataDir, pgliteSharedBuffers: CLI_SHARED_BUFFERS })).close();
    env = { DATA_DIR: dataDir };
    drop = async () => rmSync(dataDir, { recursive: true, force: true });
  }
  const withDb = async <T>(fn: (db: Db) => Promise<T>): Promise<T> => {
    const handle = await openDatabase({
      url: env.DATABASE_URL,
      dataDir: env.DATA_DIR ?? '',
      migrate: false,
      pgliteSharedBuffers: CLI_SHARED_BUFFERS,
    });
    try {
      return await fn(handle.db);
    } finally {
      await handle.close();
    }
  };
  return { env, withDb, drop };
}

/** What one in-process CLI run printed: stdout as lines, stderr as one text. */
export interface CliRun {
  code: number;
  out: string[];
  err: string;
}

/**
 * `cli(...argv)` for a spec: runs the CLI in process with the env `env()` returns at the
 * call, since a spec sets its env in `beforeAll`, after this is made.
 */
export function cliRunner(env: () => NodeJS.ProcessEnv): (...argv: string[]) => Promise<CliRun> {
  return async (...argv) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, env(), { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err: err.join('\n') };
  };
}

/**
 * A describe block's own CLI database, made in `beforeAll` and dropped in `afterAll` (call
 * this before the block's own hooks), with `cli` running quiet test commands on it, the
 * block's `extraEnv()` added.
 */
export function cliSpecDatabase(extraEnv: () => NodeJS.ProcessEnv = () => ({})) {
  let database: CliDatabase | undefined;
  beforeAll(async () => {
    database = await cliDatabase();
  });
  afterAll(() => database?.drop());
  const opened = (): CliDatabase => {
    if (!database) throw new Error('the CLI database is made in beforeAll');
    return database;
  };
  return {
    cli: cliRunner(() => ({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...opened().env, ...extraEnv() })),
    withDb: <T>(fn: (db: Db) => Promise<T>): Promise<T> => opened().withDb(fn),
  };
}
