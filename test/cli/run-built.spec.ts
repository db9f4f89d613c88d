import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliDatabase, cliDatabase } from './cli-database';

type LockOptions = { lockTimeoutMs?: number; log?: (line: string) => void };
// The launcher is plain JavaScript (it runs before anything is compiled).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureBuilt, typecheck, sourcesHash } = require('../../scripts/run-built.js') as {
  ensureBuilt: (root: string, entry: string, build: (root: string) => number, options?: LockOptions) => boolean;
  sourcesHash: (root: string) => string;
  typecheck: (root: string, check: (root: string) => number, options?: LockOptions) => void;
};

/** A lock test fails instead of hanging its worker (the launcher waits synchronously). */
const LOCK_TIMEOUT = { lockTimeoutMs: 10_000, log: () => undefined };

const ROOT = join(__dirname, '..', '..');

/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid;

describe('scripts/run-built.js: builds only when the sources changed', () => {
  let root: string;
  let builds: number;
  let buildResult: number;
  /** Like tsc, it writes its output even when it fails: `dist/main.js` holds the sources it saw. */
  const build = (dir: string) => {
    builds++;
    writeFileSync(join(dir, 'dist', 'main.js'), readFileSync(join(dir, 'libs/x/src/index.ts')));
    return buildResult;
  };
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'run-built-'));
    builds = 0;
    buildResult = 0;
    for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) write(file, '{}');
    write('apps/api/src/main.ts', 'export const a = 1;');
    write('libs/x/src/index.ts', 'export const b = 2;');
    mkdirSync(join(root, 'dist'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('builds the first time, then not again until a source changes', () => {
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(true);
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(false);
    // Touched, not changed (a checkout that rewrites the same bytes): still current.
    utimesSync(join(root, 'libs/x/src/index.ts'), new Date(), new Date());
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(false);
    // A test is not an input of the build.
    write('apps/api/src/main.spec.ts', 'it.todo("x");');
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(false);
    expect(builds).toBe(1);

    write('libs/x/src/index.ts', 'export const b = 3;');
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(true);
    write('libs/x/src/new.ts', 'export const c = 4;');
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(true);
    unlinkSync(join(root, 'libs/x/src/new.ts'));
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(true);
    write('tsconfig.build.json', '{"compilerOptions":{}}');
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(true);
    expect(builds).toBe(5);
  });

  it('builds when the entry point is missing (dist removed), whatever the stamp says', () => {
    ensureBuilt(root, 'dist/main.js', build);
    unlinkSync(join(root, 'dist', 'main.js'));
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(true);
  });

  it('the bench is an input of the build; a missing source folder is not an error', () => {
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(true);
    write('bench/main.ts', 'export const d = 5;');
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(true);
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(false);
  });

  it('the whole-tree type check stamps the build current when it passes, and not when it fails', () => {
    typecheck(root, build, LOCK_TIMEOUT);
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(false);
    expect(builds).toBe(1);

    // A failed check still wrote its output; the stamp of the earlier sources is gone with it,
    // so going back to them (a stash, a revert) builds again instead of running that output.
    write('libs/x/src/index.ts', 'export const b = 3;');
    buildResult = 2;
    expect(() => typecheck(root, build, LOCK_TIMEOUT)).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(readFileSync(join(root, 'dist', 'main.js'), 'utf8')).toBe('export const b = 3;');
    write('libs/x/src/index.ts', 'export const b = 2;');
    buildResult = 0;
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(true);
    expect(readFileSync(join(root, 'dist', 'main.js'), 'utf8')).toBe('export const b = 2;');
    expect(builds).toBe(3);
  });

  it('a build waits while another process holds the lock, then finds the sources built by it', () => {
    ensureBuilt(root, 'dist/main.js', build);
    write('libs/x/src/index.ts', 'export const b = 3;');
    // Another launcher (a live process: this one's parent) is building: it holds the lock, and
    // 300 ms later stamps the new sources and lets go.
    const lock = join(root, 'dist', '.build-lock');
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), String(process.ppid));
    const finish = `const fs = require('node:fs');
      setTimeout(() => { fs.writeFileSync(process.argv[1], process.argv[2] + '\\n'); fs.rmSync(process.argv[3], { recursive: true }); }, 300);`;
    spawn(process.execPath, ['-e', finish, join(root, 'dist', '.sources-hash'), sourcesHash(root), lock], {
      stdio: 'ignore',
    });
    const started = Date.now();
    expect(ensureBuilt(root, 'dist/main.js', build, LOCK_TIMEOUT)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(builds).toBe(1);
  });

  it('gives up waiting after the time it is given, naming the process that holds the lock', () => {
    const lock = join(root, 'dist', '.build-lock');
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), String(process.ppid));
    expect(() => ensureBuilt(root, 'dist/main.js', build, { ...LOCK_TIMEOUT, lockTimeoutMs: 300 })).toThrow(
      `the build lock ${lock} is held by process ${process.ppid}`,
    );
    expect(builds).toBe(0);
  });

  it('takes over a lock left by a build that was killed', () => {
    const lock = join(root, 'dist', '.build-lock');
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), String(deadPid()));
    expect(ensureBuilt(root, 'dist/main.js', build, LOCK_TIMEOUT)).toBe(true);
    expect(builds).toBe(1);
    expect(existsSync(lock)).toBe(false);
  });

  it('a failed build fails the run with its exit code, and the next run builds again', () => {
    buildResult = 2;
    expect(() => ensureBuilt(root, 'dist/main.js', build)).toThrow(
      expect.objectContaining({ exitCode: 2, message: 'the build failed (exit code 2)' }),
    );
    buildResult = 0;
    expect(ensureBuilt(root, 'dist/main.js', build)).toBe(true);
    expect(builds).toBe(2);
  });
});

/**
 * `npm run cli` as a user runs it: the launcher in a process of its own, the compiled entry
 * point, the real configuration from the environment. The first run compiles the tree when
 * the build is missing or stale (a fresh clone, an edited source), which takes tsc's time.
 */
describe('npm run cli: the launcher runs the built CLI', () => {
  const BUILD_TIMEOUT_MS = 240_000;
  let database: CliDatabase;
  beforeAll(async () => (database = await cliDatabase()));
  afterAll(() => database?.drop());

  const launch = (argv: string[], nodeArgs: string[] = [], env = database.env) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const launcher = ['scripts/run-built.js', 'dist/apps/api/src/cli/main.js'];
      const child = spawn(process.execPath, [...nodeArgs, ...launcher, ...argv], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, NODE_ENV: 'test', ...env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it(
    'builds if it must, runs the command; the next run starts from the build as it is',
    async () => {
      const created = await launch(['org', 'create', 'initech', '--name', 'Initech', '--json']);
      expect(created.code).toBe(0);
      // Whatever the build printed went to stderr: stdout is the command's JSON alone.
      expect(JSON.parse(created.stdout)).toMatchObject({ slug: 'initech', name: 'Initech' });

      const shown = await launch(['org', 'show', 'initech']);
      expect(shown).toMatchObject({ code: 0, stderr: '' });
      expect(shown.stdout).toContain('name\tInitech\n');

      const refused = await launch(['org', 'show', 'nope']);
      expect(refused).toMatchObject({ code: 1, stdout: '', stderr: 'error: No organization "nope"\n' });
    },
    BUILD_TIMEOUT_MS,
  );

  it('a command boots the Nest context without the HTTP stack', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-modules-'));
    try {
      const list = join(dir, 'modules.txt');
      const probe = join(dir, 'probe.js');
      writeFileSync(
        probe,
        `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, Object.keys(require.cache).join('\\n')));`,
      );
      expect((await launch(['org', 'list', '--json'], ['--require', probe])).code).toBe(0);
      const loaded = readFileSync(list, 'utf8');
      expect(loaded).toContain('/node_modules/@nestjs/core/');
      for (const heavy of [
        '@nestjs/platform-fastify',
        'fastify',
        '@nestjs/swagger',
        'class-validator',
        'stripe',
        'ioredis',
      ])
        expect(loaded).not.toContain(`/node_modules/${heavy}/`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a database that does not answer: one line on stderr, exit 1', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));

    const result = await launch(['org', 'list'], [], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/credits` });
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toMatch(
      new RegExp(`^error: cannot connect to PostgreSQL at 127.0.0.1:${port}/credits: .*\\n$`),
    );
  });
});
