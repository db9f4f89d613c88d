#!/usr/bin/env node
'use strict';
/**
 * `node scripts/run-built.js dist/<entry>.js [args…]` runs a compiled entry point, compiling the
 * tree first (`npm run build`) only when its sources changed since the last build. `npm start`,
 * `npm run cli` and `npm run bench` go through here, so a command answers in about a second
 * instead of waiting for tsc on every call.
 *
 * "Changed" is a hash of the sources' contents (the build's inputs), kept beside the build in
 * dist/.sources-hash: a checkout of another branch, an edit, a revert or a deleted file all
 * change it; touching a file without changing it does not. The hash is taken before the build
 * and written after it succeeds, so an edit made while tsc runs is built next time.
 *
 * `node scripts/run-built.js --typecheck` (`npm run typecheck`, and `npm test` beside Jest)
 * type-checks the whole tree, tests included, and emits it into dist/ as it goes
 * (tsconfig.json's outDir), so the build is current after it: one tsc pass instead of a type
 * check and a build. Builds take a lock (dist/.build-lock), so a command started while tsc
 * writes dist/ waits for it instead of compiling over it.
 */
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} = require('node:fs');
const { dirname, join, relative, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');
/** What `tsconfig.build.json` compiles, and what decides how. */
const SOURCE_DIRS = ['apps', 'libs', 'bench'];
const BUILD_FILES = ['package.json', 'tsconfig.json', 'tsconfig.build.json'];
const STAMP = join('dist', '.sources-hash');
const LOCK = join('dist', '.build-lock');
/** How often a command waiting for another process's build looks at the lock again. */
const LOCK_POLL_MS = 200;
/** A takeover guard older than this was left by a waiter killed in the middle of one. */
const TAKEOVER_STALE_MS = 5_000;

/** The build's inputs under `dir`: TypeScript sources, not tests (the build excludes them). */
function* sourceFiles(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts') && !/\.(e2e-)?spec\.ts$/.test(entry.name)) yield path;
  }
}

/** A hash of every input's path and contents, in a stable order. */
function sourcesHash(root) {
  const files = [
    ...SOURCE_DIRS.flatMap((dir) => [...sourceFiles(join(root, dir))]),
    ...BUILD_FILES.map((file) => join(root, file)),
  ].sort();
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(`${relative(root, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  return hash.digest('hex');
}

function readStamp(root) {
  try {
    return readFileSync(join(root, STAMP), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Whether the build in dist/ is of these sources and holds `entry`. */
function isCurrent(root, entry) {
  return sourcesHash(root) === readStamp(root) && existsSync(join(root, entry));
}

/** Sleeps without returning to the event loop (the launcher is synchronous until the entry runs). */
function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The pid of the process holding the lock directory `dir`; undefined if none. */
function lockPid(dir) {
  try {
    return Number(readFileSync(join(dir, 'pid'), 'utf8'));
  } catch {
    return undefined; // released meanwhile
  }
}

/** Whether `pid` has died (a build killed halfway leaves its lock). Our own pid there was an earlier process's. */
function holderDied(pid) {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return error.code === 'ESRCH'; // EPERM: alive, another user's
  }
}

/** Tries once to take the lock: made aside with our pid inside, then renamed into place (fails while one is there). */
function tryLock(lock) {
  const mine = `${lock}.new.${process.pid}`;
  try {
    mkdirSync(dirname(lock), { recursive: true }); // again each time: dist/ may be removed while we wait
    rmSync(mine, { recursive: true, force: true });
    mkdirSync(mine);
    writeFileSync(join(mine, 'pid'), String(process.pid));
    renameSync(mine, lock);
    return true;
  } catch (error) {
    rmSync(mine, { recursive: true, force: true });
    if (['EEXIST', 'ENOTEMPTY', 'ENOENT'].includes(error.code)) return false;
    throw error;
  }
}

/** Removes `dir` by renaming it away first, so its path is never an empty directory another lock could be renamed onto. */
function removeLockDir(dir, why) {
  const aside = `${dir}.${why}.${process.pid}`;
  rmSync(aside, { recursive: true, force: true });
  renameSync(dir, aside);
  rmSync(aside, { recursive: true, force: true });
}

/**
 * Removes the lock of `deadPid`, one waiter at a time (under a takeover directory), and only
 * after seeing there that the lock is still that dead process's: a dead process cannot release
 * it and no lock can be renamed onto it, so nothing changes it between that look and the
 * removal. Returns whether it removed it. Live holders are never taken over.
 */
function takeOverDead(lock, deadPid) {
  const guard = `${lock}.takeover`;
  try {
    mkdirSync(guard);
  } catch (error) {
    if (error.code !== 'EEXIST') return false;
    // A waiter killed during its takeover (microseconds) leaves the guard behind.
    const age = Date.now() - (statSync(guard, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > TAKEOVER_STALE_MS) rmSync(guard, { recursive: true, force: true });
    return false;
  }
  try {
    if (lockPid(lock) !== deadPid) return false;
    removeLockDir(lock, 'dead');
    return true;
  } finally {
    rmSync(guard, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` holding the build lock, waiting while another live process holds it (at most
 * `lockTimeoutMs`, then throws; `log` says once whom it waits for). A lock whose holder died is
 * taken over.
 */
function withBuildLock(root, fn, { lockTimeoutMs = Infinity, log = (line) => process.stderr.write(line) } = {}) {
  const lock = join(root, LOCK);
  const started = Date.now();
  let told = false;
  while (!tryLock(lock)) {
    const holder = lockPid(lock); // undefined: released between our attempt and our look
    if (holder !== undefined && holderDied(holder) && takeOverDead(lock, holder)) continue;
    if (Date.now() - started > lockTimeoutMs) {
      throw new Error(`the build lock ${lock} is held by process ${holder ?? '(unknown)'}`);
    }
    if (holder !== undefined && !told) {
      log(`Waiting for the build in process ${holder} (${LOCK})…\n`);
      told = true;
    }
    sleepSync(holder === undefined ? 1 : LOCK_POLL_MS);
  }
  try {
    return fn();
  } finally {
    // Still ours (only a dead holder's lock is ever taken over), unless dist/ was removed meanwhile.
    if (existsSync(lock)) removeLockDir(lock, 'done');
  }
}

/**
 * Runs `build` (the compiler; returns its exit code) and stamps dist/ with the hash the sources
 * had before it started. The stamp is removed first: tsc writes its output even when it fails,
 * so an old stamp must not vouch for what a failed build left in dist/, and a command started
 * meanwhile waits for the lock instead of running half-written files. Throws with the exit code
 * when the build fails. The caller holds the lock.
 */
function buildAndStamp(root, build) {
  const stamp = join(root, STAMP);
  rmSync(stamp, { force: true });
  const current = sourcesHash(root);
  const code = build(root);
  if (code !== 0) {
    const error = new Error(`the build failed (exit code ${code})`);
    error.exitCode = code || 1;
    throw error;
  }
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(`${stamp}.tmp`, `${current}\n`);
  renameSync(`${stamp}.tmp`, stamp);
}

/**
 * Builds when the sources differ from the last build's, or `entry` is missing. `build` runs the
 * compiler and returns its exit code. Returns whether it built (false also when another
 * process built while this one waited for the lock).
 */
function ensureBuilt(root, entry, build, options) {
  if (isCurrent(root, entry)) return false;
  return withBuildLock(
    root,
    () => {
      if (isCurrent(root, entry)) return false;
      buildAndStamp(root, build);
      return true;
    },
    options,
  );
}

/** Runs a package's Node script from `root`'s node_modules; its exit code. */
function runNode(root, script, args) {
  const result = spawnSync(process.execPath, [require.resolve(script, { paths: [root] }), ...args], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

/** `tsc` over the whole tree (tsconfig.json), emitting into dist/; `incremental` re-checks only what changed. */
function typecheckBuild(root) {
  // The build's own record of what dist/ holds (tsconfig.build.json): with one record each, a
  // build after a type check (or the reverse) would trust a record of files the other rewrote.
  const tsc = ['-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', join('dist', '.tsbuildinfo')];
  const checked = runNode(root, 'typescript/bin/tsc', tsc);
  return checked !== 0 ? checked : runNode(root, 'tsc-alias/dist/bin/index.js', ['-p', 'tsconfig.json']);
}

/** The whole tree type-checked and emitted, the build stamped current when it passes. */
function typecheck(root, check = typecheckBuild, options) {
  withBuildLock(root, () => buildAndStamp(root, check), options);
}

/** `npm run build`, its output on stderr: stdout belongs to the command (a key, a JSON document). */
function npmBuild(root) {
  process.stderr.write('Building: the sources changed since the last build…\n');
  const npm = process.env.npm_execpath;
  const [file, args] = npm ? [process.execPath, [npm]] : ['npm', []];
  const result = spawnSync(file, [...args, 'run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

if (require.main === module) {
  const [entry, ...args] = process.argv.slice(2);
  if (!entry) {
    process.stderr.write('usage: node scripts/run-built.js dist/<entry>.js [args…] | --typecheck | --unstamp\n');
    process.exit(2);
  }
  try {
    if (entry === '--typecheck') {
      typecheck(ROOT);
      process.exit(0);
    }
    // `npm run build` and `start:dev` compile outside the launcher: no stamp may vouch for that.
    if (entry === '--unstamp') {
      rmSync(join(ROOT, STAMP), { force: true });
      process.exit(0);
    }
    ensureBuilt(ROOT, entry, npmBuild);
  } catch (error) {
    // A failed type check has printed its errors already.
    if (entry !== '--typecheck' || error.exitCode === undefined) process.stderr.write(`${error.message}\n`);
    process.exit(error.exitCode ?? 1);
  }
  // Node 22.1+ keeps V8's compiled code of every module between runs (keyed by content, so
  // a rebuild is safe): about a quarter less start-up. Node 20 has no such cache.
  require('node:module').enableCompileCache?.(join(ROOT, 'dist', '.compile-cache'));
  // Runs in this process: signals (Ctrl-C, SIGTERM) reach the service directly, and no second
  // Node starts. The entry reads its arguments from process.argv as if started on its own.
  const main = resolve(ROOT, entry);
  process.argv = [process.argv[0], main, ...args];
  require(main);
}

module.exports = { ensureBuilt, typecheck, sourcesHash };
