import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { median } from '../load';
import { log } from '../log';
import { REPO_ROOT } from '../processes';
import type { Row } from '../table-rows';
import type { Stack } from '../stack';

const run = promisify(execFile);

/** A command answers within this, on either database (issue: the CLI on PGlite took 2.0 s). */
export const CLI_TARGET_MS = 1500;

export interface CliResult {
  rows: Row[];
  /** Every command's wall time, per database, in ms. */
  samples: Record<'pglite' | 'postgres', number[]>;
}

/**
 * `npm run --silent cli -- org show <org>` as an operator types it, wall time from spawn to
 * exit, alternately on an embedded data directory (one org) and on the bench's PostgreSQL
 * database. The first commands are not timed: they build `dist/` if the sources changed
 * (`scripts/run-built.js`), create the data directory and warm the OS's file cache.
 */
export async function cliScenario({ dbUrl, seeded }: Stack, runs: number): Promise<CliResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'credits-bench-cli-'));
  const sides = {
    pglite: { env: { DATABASE_URL: '', DATA_DIR: dataDir }, org: 'bench-cli' },
    postgres: { env: { DATABASE_URL: dbUrl }, org: seeded.orgSlug },
  };
  const command = async (side: keyof typeof sides, args: string[]): Promise<number> => {
    const started = performance.now();
    await run('npm', ['run', '--silent', 'cli', '--', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', ...sides[side].env },
    });
    return performance.now() - started;
  };
  const samples: CliResult['samples'] = { pglite: [], postgres: [] };
  try {
    log(`cli: ${runs} × "org show" on PGlite and on PostgreSQL, alternately`);
    await command('pglite', ['org', 'create', sides.pglite.org, '--name', 'Bench CLI']);
    for (const side of ['pglite', 'postgres'] as const) await command(side, ['org', 'show', sides[side].org]);
    for (let i = 0; i < runs; i++) {
      for (const side of ['pglite', 'postgres'] as const)
        samples[side].push(await command(side, ['org', 'show', sides[side].org]));
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  const row = (side: keyof typeof sides, label: string): Row => {
    const ms = samples[side];
    const p50 = median(ms);
    log(`cli ${side}: median ${p50.toFixed(0)} ms (${ms.map((m) => m.toFixed(0)).join(', ')})`);
    return {
      scenario: `cli org show (${label})`,
      rps: 1000 / p50,
      p50_ms: Math.round(p50),
      p99_ms: Math.round(Math.max(...ms)),
      floor_rps: null,
      floor_p50_ms: null,
      floor_p99_ms: null,
      ratio: null,
      added_p99_ms: null,
      unexpected: 0,
      target: `median ≤ ${CLI_TARGET_MS} ms`,
      met: p50 <= CLI_TARGET_MS,
    };
  };
  return { rows: [row('pglite', 'PGlite'), row('postgres', 'PostgreSQL')], samples };
}
