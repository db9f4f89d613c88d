import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { type DatabaseHandle, creditBalances, openDatabase, organizations, rows } from '@credits/database';
import { PGLITE_TEMPLATE_CACHE_DIR, primePgliteTemplate } from '../support/database';
import { concurrentIncrements } from './counter';

beforeAll(() => primePgliteTemplate());

async function tableNames(handle: DatabaseHandle): Promise<string[]> {
  const tables = await rows<{ table_name: string }>(
    handle.db,
    sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
  );
  return tables.map((r) => r.table_name);
}

const TABLES = [
  'api_key_orgs',
  'api_keys',
  'auto_refill_settings',
  'auto_refills',
  'checkout_sessions',
  'credit_balances',
  'credit_grants',
  'credit_holds',
  'credit_ledger',
  'idempotency_keys',
  'memberships',
  'notification_deliveries',
  'notification_endpoints',
  'notification_events',
  'organizations',
  'stripe_events',
  'usage_records',
  'users',
];

describe('PGlite in memory (memory://)', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openDatabase({ url: 'memory://', dataDir: 'unused' });
  });
  afterAll(() => handle.close());

  it('is migrated and answers', async () => {
    expect(handle.kind).toBe('pglite');
    await handle.ping();
    expect(await tableNames(handle)).toEqual(TABLES);
    const migrations = await rows<{ n: number }>(
      handle.db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    expect(migrations[0].n).toBeGreaterThanOrEqual(1);
  });

  it('queues concurrent transactions instead of interleaving them (20 read-modify-writes)', async () => {
    expect(await concurrentIncrements(handle.db, { forUpdate: false })).toBe(20);
  });

  it('rolls a failed transaction back, and enforces the schema constraints', async () => {
    await expect(
      handle.db.transaction(async (tx) => {
        await tx.insert(organizations).values({ slug: 'rolled-back', name: 'x' });
        throw new Error('midway');
      }),
    ).rejects.toThrow('midway');
    expect(await handle.db.select().from(organizations).where(eq(organizations.slug, 'rolled-back'))).toEqual([]);

    const [org] = await handle.db.insert(organizations).values({ slug: 'acme', name: 'Acme' }).returning();
    await expect(handle.db.insert(creditBalances).values({ orgId: org.id, balance: -1 })).rejects.toThrow();
    await handle.db.insert(creditBalances).values({ orgId: org.id, balance: 5 });
    const withBalance = await handle.db.query.organizations.findFirst({
      where: eq(organizations.slug, 'acme'),
      with: { balance: true },
    });
    expect(withBalance?.balance?.balance).toBe(5);
  });

  it('gives each open its own empty database', async () => {
    const other = await openDatabase({ url: 'memory://', dataDir: 'unused' });
    try {
      expect(await other.db.select().from(organizations)).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('closes once, however often close() is called', async () => {
    const other = await openDatabase({ url: 'memory://', dataDir: 'unused' });
    await Promise.all([other.close(), other.close()]);
    await other.close();
    await expect(other.ping()).rejects.toThrow();
  });
});

describe('PGlite in a data directory', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'credits-pglite-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates the directory, keeps data across reopen, and holds the lock while open', async () => {
    const dataDir = join(root, 'nested', 'data');
    const lockFile = join(dataDir, 'credits-api.lock');
    const first = await openDatabase({ dataDir });
    expect(first.kind).toBe('pglite');
    expect(readFileSync(lockFile, 'utf8').trim()).toBe(String(process.pid));
    await first.db.insert(organizations).values({ slug: 'kept', name: 'Kept' });

    await expect(openDatabase({ dataDir })).rejects.toThrow(
      new Error(`the embedded database in ${dataDir} is in use by process ${process.pid}; stop it or set DATABASE_URL`),
    );

    await first.close();
    await first.close();
    expect(existsSync(lockFile)).toBe(false);

    const second = await openDatabase({ dataDir });
    try {
      expect((await second.db.select().from(organizations)).map((o) => o.slug)).toEqual(['kept']);
    } finally {
      await second.close();
    }
  });

  it('refuses a directory held by another process, and takes it over once that process died', async () => {
    const dataDir = join(root, 'data');
    const child = await holdDataDir(dataDir);
    try {
      await expect(openDatabase({ dataDir })).rejects.toThrow(
        new Error(`the embedded database in ${dataDir} is in use by process ${child.pid}; stop it or set DATABASE_URL`),
      );
    } finally {
      await kill(child);
    }
    // SIGKILL: the child could not remove its lock; its pid is dead now, so the lock is stale.
    expect(readFileSync(join(dataDir, 'credits-api.lock'), 'utf8').trim()).toBe(String(child.pid));
    const handle = await openDatabase({ dataDir });
    try {
      expect((await handle.db.select().from(organizations)).map((o) => o.slug)).toEqual(['from-child']);
      expect(readFileSync(join(dataDir, 'credits-api.lock'), 'utf8').trim()).toBe(String(process.pid));
    } finally {
      await handle.close();
    }
  });
});

function holdDataDir(dataDir: string): Promise<ChildProcess> {
  // The child is a plain Node process, not a Jest worker: it must not inherit the marker.
  const { JEST_WORKER_ID: _worker, ...env } = process.env;
  const child = fork(join(__dirname, 'fixtures', 'hold-data-dir.ts'), [dataDir, PGLITE_TEMPLATE_CACHE_DIR], {
    execArgv: ['-r', join(__dirname, 'fixtures', 'ts-register.js')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env,
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { ready?: boolean; error?: string }) =>
      message.ready ? resolve(child) : reject(new Error(`child failed: ${message.error}`)),
    );
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before holding ${dataDir}`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
