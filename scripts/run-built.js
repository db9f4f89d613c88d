#!/usr/bin/env node
'use strict';
/**
 * `node scripts/run-built.js dist/<entry>.js [args…]` runs a compiled entry point, compiling the
 * tree first (`npm run build`) only when its sources changed since the last build. `npm start`
 * and `npm run cli` go through here, so a command answers in about a second instead of waiting
 * for tsc on every call.
 *
 * "Changed" is a hash of the sources' contents (the build's inputs), kept beside the build in
 * dist/.sources-hash: a checkout of another branch, an edit, a revert or a deleted file all
 * change it; touching a file without changing it does not. The hash is taken before the build
 * and written after it succeeds, so an edit made while tsc runs is built next time.
 */
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join, relative, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');
/** What `tsconfig.build.json` compiles, and what decides how. */
const SOURCE_DIRS = ['apps', 'libs'];
const BUILD_FILES = ['package.json', 'tsconfig.json', 'tsconfig.build.json'];
const STAMP = join('dist', '.sources-hash');

/** The build's inputs under `dir`: TypeScript sources, not tests (the build excludes them). */
function* sourceFiles(dir) {
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

/**
 * Builds when the sources differ from the last build's, or `entry` is missing. `build` runs the
 * compiler and returns its exit code. Returns whether it built.
 */
function ensureBuilt(root, entry, build) {
  const current = sourcesHash(root);
  if (current === readStamp(root) && existsSync(join(root, entry))) return false;
  const code = build(root);
  if (code !== 0) {
    const error = new Error(`the build failed (exit code ${code})`);
    error.exitCode = code || 1;
    throw error;
  }
  const stamp = join(root, STAMP);
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(`${stamp}.tmp`, `${current}\n`);
  renameSync(`${stamp}.tmp`, stamp);
  return true;
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
    process.stderr.write('usage: node scripts/run-built.js dist/<entry>.js [args…]\n');
    process.exit(2);
  }
  try {
    ensureBuilt(ROOT, entry, npmBuild);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
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

module.exports = { ensureBuilt, sourcesHash };
