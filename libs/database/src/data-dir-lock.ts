import { closeSync, openSync, readFileSync, realpathSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE_NAME = 'credits-api.lock';

/** Lock files held by this process (real paths): a second open here is refused too. */
const heldHere = new Set<string>();
let exitHookInstalled = false;

function unlinkIfOurs(path: string): void {
  try {
    if (readPid(path) === process.pid) unlinkSync(path);
  } catch {
    /* already gone */
  }
}

/**
 * A process that exits without closing still frees its directories (not on SIGKILL: then the
 * next start finds the pid dead and takes the lock over).
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const path of heldHere) unlinkIfOurs(path);
  });
}

export interface DataDirLock {
  readonly path: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

function inUse(dir: string, pid: number | string): Error {
  return new Error(`the embedded database in ${dir} is in use by process ${pid}; stop it or set DATABASE_URL`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function readPid(path: string): number | undefined {
  const text = readFileSync(path, 'utf8').trim();
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

function tryCreate(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Takes `<dir>/credits-api.lock` exclusively (PGlite is not multi-process safe).
 * A lock left by a dead process (or by an earlier process that had our pid, e.g. pid 1
 * in a container) is taken over; a live holder makes this throw one clear line.
 * `dir` must exist.
 */
export function acquireDataDirLock(dir: string): DataDirLock {
  const path = join(realpathSync(dir), LOCK_FILE_NAME);
  if (heldHere.has(path)) throw inUse(dir, process.pid);

  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path)) return register(path);

    let pid: number | undefined;
    try {
      pid = readPid(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
      throw err;
    }
    if (pid === undefined) {
      // Created but not yet written by a process starting right now, or garbage left by a crash.
      let ageMs: number;
      try {
        ageMs = Date.now() - statSync(path).mtimeMs;
      } catch {
        continue;
      }
      if (ageMs < 10_000) throw inUse(dir, 'unknown (lock file being written)');
    } else if (pid !== process.pid && isAlive(pid)) {
      throw inUse(dir, pid);
    }
    // Stale: take it over.
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  let holder: number | string = 'unknown';
  try {
    holder = readPid(path) ?? holder;
  } catch {
    /* ignore */
  }
  throw inUse(dir, holder);
}

function register(path: string): DataDirLock {
  installExitHook();
  heldHere.add(path);
  let released = false;
  return {
    path,
    release(): void {
      if (released) return;
      released = true;
      heldHere.delete(path);
      unlinkIfOurs(path);
    },
  };
}
