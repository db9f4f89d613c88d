import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vm from 'node:vm';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';

/**
 * A migrated PGlite data directory as a tarball, built once per process (per migrations
 * folder) and loaded into every new embedded database: `initdb` in WASM costs ~4 s and
 * ~700 MB in memory (~11 s on disk), loading the tarball ~1.2 s. The migrator still runs
 * after loading, so a template that missed a migration only costs time, never correctness.
 */
const templates = new Map<string, Promise<Blob>>();

export interface PgliteTemplateOptions {
  /**
   * Also keep the tarball in this directory, keyed by the migrations' and PGlite's content,
   * so other processes (Jest workers, later runs) skip building it.
   */
  cacheDir?: string;
}

/**
 * PGlite loads Node built-ins with dynamic `import()`, which Jest's module sandbox allows only
 * when Node runs with `--experimental-vm-modules`; without it the failure is an unhandled
 * rejection inside PGlite that kills the Jest worker. Fail with a clear error instead.
 */
export function assertPgliteCanRun(): void {
  const underJest = process.env.JEST_WORKER_ID !== undefined;
  if (underJest && typeof (vm as { SyntheticModule?: unknown }).SyntheticModule !== 'function') {
    throw new Error(
      'PGlite under Jest needs Node started with --experimental-vm-modules (NODE_OPTIONS=--experimental-vm-modules jest), or a PostgreSQL DATABASE_URL',
    );
  }
}

export function getPgliteTemplate(migrationsFolder: string, options: PgliteTemplateOptions = {}): Promise<Blob> {
  let template = templates.get(migrationsFolder);
  if (!template) {
    assertPgliteCanRun();
    template = loadOrBuild(migrationsFolder, options.cacheDir);
    templates.set(migrationsFolder, template);
    // A failed build is not cached: the next open tries again.
    template.catch(() => templates.delete(migrationsFolder));
  }
  return template;
}

async function loadOrBuild(migrationsFolder: string, cacheDir: string | undefined): Promise<Blob> {
  const file = cacheDir ? join(cacheDir, `pglite-template-${templateKey(migrationsFolder)}.tar`) : undefined;
  if (file && existsSync(file)) {
    try {
      return new Blob([readFileSync(file)]);
    } catch {
      /* unreadable: rebuild */
    }
  }
  const blob = await build(migrationsFolder);
  if (file) {
    try {
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, Buffer.from(await blob.arrayBuffer()));
      renameSync(tmp, file); // atomic: concurrent builders each write a complete file
    } catch {
      /* the cache is an optimisation only */
    }
  }
  return blob;
}

async function build(migrationsFolder: string): Promise<Blob> {
  const pglite = new PGlite();
  try {
    await migrate(drizzle(pglite), { migrationsFolder });
    return await pglite.dumpDataDir('none');
  } finally {
    await pglite.close();
  }
}

function templateKey(migrationsFolder: string): string {
  const hash = createHash('sha256');
  const pgliteEntry = require.resolve('@electric-sql/pglite');
  for (const candidate of [join(dirname(pgliteEntry), '..', 'package.json'), pgliteEntry]) {
    if (existsSync(candidate)) {
      hash.update(readFileSync(candidate));
      break;
    }
  }
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(name).update(readFileSync(path));
    }
  };
  walk(migrationsFolder);
  return hash.digest('hex').slice(0, 16);
}
