import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import * as ts from 'typescript';

/** Runs `main.ts` as a real process: the sources transpiled to CommonJS in a temp dir. */
const SRC = join(__dirname, '../../apps/stripe-emulator/src');
let outDir: string;

function transpileTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) transpileTree(path);
    else if (entry.name.endsWith('.ts')) {
      const { outputText } = ts.transpileModule(readFileSync(path, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      });
      const target = join(outDir, relative(SRC, path)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
  }
}

function run(env: Record<string, string>): {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
  stdout(): string;
} {
  const child = spawn(process.execPath, [join(outDir, 'main.js')], { env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { done, kill: (signal) => child.kill(signal), stdout: () => stdout };
}

describe('stripe-emulator main', () => {
  beforeAll(() => {
    outDir = mkdtempSync(join(tmpdir(), 'stripe-emulator-'));
    transpileTree(SRC);
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('refuses a non-loopback host with one line and exit code 1', async () => {
    const { done } = run({ STRIPE_EMULATOR_HOST: '0.0.0.0', STRIPE_EMULATOR_PORT: '0' });
    const result = await done;
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /^stripe-emulator: Refusing to bind the Stripe emulator to non-loopback host "0\.0\.0\.0"/,
    );
  });

  it('listens, logs one line, answers, and closes on SIGTERM', async () => {
    const proc = run({ STRIPE_EMULATOR_PORT: '0', STRIPE_WEBHOOK_URL: '' });
    const start = Date.now();
    while (!/listening on/.test(proc.stdout()) && Date.now() - start < 5000)
      await new Promise((r) => setTimeout(r, 20));
    const match = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(proc.stdout());
    expect(match).not.toBeNull();
    const res = await fetch(`${match![1]}/_emulator/health`);
    expect(await res.json()).toEqual({ ok: true });
    proc.kill('SIGTERM');
    const result = await proc.done;
    expect(result.code).toBe(0);
  });
});
