import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireDataDirLock } from '../../libs/database/src/data-dir-lock';

describe('data directory lock', () => {
  let dir: string;
  let lockFile: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'credits-lock-'));
    lockFile = join(dir, 'credits-api.lock');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes our pid, refuses a second holder in this process, and is removed on release', () => {
    const lock = acquireDataDirLock(dir);
    expect(readFileSync(lockFile, 'utf8').trim()).toBe(String(process.pid));
    expect(() => acquireDataDirLock(dir)).toThrow(
      new Error(`the embedded database in ${dir} is in use by process ${process.pid}; stop it or set DATABASE_URL`),
    );
    lock.release();
    lock.release();
    expect(existsSync(lockFile)).toBe(false);
    acquireDataDirLock(dir).release();
  });

  it('refuses a directory held by a live process', () => {
    const ppid = process.ppid; // alive: it runs this test
    writeFileSync(lockFile, `${ppid}\n`);
    expect(() => acquireDataDirLock(dir)).toThrow(
      new Error(`the embedded database in ${dir} is in use by process ${ppid}; stop it or set DATABASE_URL`),
    );
    expect(readFileSync(lockFile, 'utf8').trim()).toBe(String(ppid));
  });

  it('takes over a lock left by a dead process', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    writeFileSync(lockFile, `${dead.stdout.toString()}\n`);
    const lock = acquireDataDirLock(dir);
    expect(readFileSync(lockFile, 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });

  it('takes over a lock with our own pid that this process does not hold (pid reused after a crash)', () => {
    writeFileSync(lockFile, `${process.pid}\n`);
    acquireDataDirLock(dir).release();
    expect(existsSync(lockFile)).toBe(false);
  });

  it('treats an unreadable lock as being written when fresh, and as stale when old', () => {
    writeFileSync(lockFile, '');
    expect(() => acquireDataDirLock(dir)).toThrow(/is in use by process unknown/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockFile, old, old);
    acquireDataDirLock(dir).release();
  });

  it('does not remove a lock that another process took over meanwhile', () => {
    const lock = acquireDataDirLock(dir);
    writeFileSync(lockFile, '1\n');
    lock.release();
    expect(readFileSync(lockFile, 'utf8').trim()).toBe('1');
  });
});
