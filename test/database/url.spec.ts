import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, parseDatabaseUrl, resolveMigrationsFolder } from '@credits/database';

describe('DATABASE_URL', () => {
  it.each([
    [undefined, 'pglite-dir'],
    ['', 'pglite-dir'],
    ['  ', 'pglite-dir'],
    ['memory://', 'pglite-memory'],
    ['postgres://u:p@db:5432/credits', 'postgres'],
    ['postgresql://db/credits', 'postgres'],
    ['POSTGRES://db/credits', 'postgres'],
  ])('%p opens %s', (url, kind) => {
    expect(parseDatabaseUrl(url).kind).toBe(kind);
  });

  it.each([
    [
      'mysql://root:hunter2@db/credits',
      'DATABASE_URL must be postgres://…, postgresql://… or memory:// (got "mysql://")',
    ],
    ['file:///var/data', 'DATABASE_URL must be postgres://…, postgresql://… or memory:// (got "file://")'],
    ['postgres:db', 'DATABASE_URL must be postgres://…, postgresql://… or memory:// (got "postgres://")'],
    ['db:5432/credits', 'DATABASE_URL must be postgres://…, postgresql://… or memory:// (got "db://")'],
    ['hunter2', 'DATABASE_URL must be postgres://…, postgresql://… or memory:// (got a value without a scheme)'],
  ])('rejects %p in one line, without credentials', async (url, message) => {
    await expect(openDatabase({ url, dataDir: '.data' })).rejects.toThrow(new Error(message));
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('\n');
  });
});

describe('migrations folder', () => {
  const root = join(__dirname, '..', '..');

  it('is found from the TypeScript sources', () => {
    expect(resolveMigrationsFolder()).toBe(join(root, 'libs', 'database', 'migrations'));
  });

  it('is found from the compiled output under dist/', () => {
    expect(resolveMigrationsFolder(join(root, 'dist', 'libs', 'database', 'src'))).toBe(
      join(root, 'libs', 'database', 'migrations'),
    );
  });

  it('walks past a build that holds the journal without the SQL (a dist/package.json beside it)', () => {
    const build = mkdtempSync(join(tmpdir(), 'credits-dist-'));
    try {
      mkdirSync(join(build, 'dist', 'libs', 'database', 'migrations', 'meta'), { recursive: true });
      writeFileSync(join(build, 'dist', 'libs', 'database', 'migrations', 'meta', '_journal.json'), '{}');
      writeFileSync(join(build, 'dist', 'package.json'), '{}');
      cpSync(join(root, 'libs', 'database', 'migrations'), join(build, 'libs', 'database', 'migrations'), {
        recursive: true,
      });
      writeFileSync(join(build, 'package.json'), '{}');
      expect(resolveMigrationsFolder(join(build, 'dist', 'libs', 'database', 'src'))).toBe(
        join(build, 'libs', 'database', 'migrations'),
      );
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
  });

  it('fails clearly when there is none', () => {
    expect(() => resolveMigrationsFolder('/')).toThrow(/cannot find libs\/database\/migrations above \//);
  });
});
