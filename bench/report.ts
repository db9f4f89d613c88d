import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Args } from './args';
import { CONNECTIONS } from './load';
import { REPO_ROOT } from './processes';
import { type Row, mib } from './table-rows';
import type { AutoRefillResult } from './scenarios/autorefill';
import type { CliResult } from './scenarios/cli';
import type { SoakResult } from './scenarios/soak';
import type { UsageResult } from './scenarios/usage';
import type { WebhookResult } from './scenarios/webhook';

/** What a run measured, for the table, the summaries and the JSON. */
export interface Results {
  rows: Row[];
  webhooks: WebhookResult[];
  usage: UsageResult[];
  autoRefill: AutoRefillResult | undefined;
  soak: SoakResult | undefined;
  cli: CliResult | undefined;
}

export function printResults({ rows, webhooks, usage, autoRefill, soak }: Results): void {
  process.stdout.write('\n' + renderTable(rows) + '\n');
  const nest = rows.filter((r) => r.nest);
  if (nest.length > 0) process.stdout.write('\n' + renderOurCost(nest) + '\n');
  const split = rows.filter((r) => r.same_work);
  if (split.length > 0) process.stdout.write('\n' + renderSameWork(split) + '\n');
  const openLoop = rows.filter((r) => r.open_loop);
  if (openLoop.length > 0) process.stdout.write('\n' + renderOpenLoop(openLoop) + '\n');
  for (const webhook of webhooks) {
    const e = webhook.exactlyOnce;
    process.stdout.write(
      `\nwebhook exactly-once (${webhook.label}): ${e.held ? 'HELD' : 'VIOLATED'} — ${e.sessions} sessions, ${e.grantedOnce} granted exactly once, ` +
        `${e.notOnce} not; balances ${e.balance} (expected ${e.expectedBalance}, ${e.orgsOff} orgs off); outcomes ${JSON.stringify(webhook.outcomes)}\n`,
    );
  }
  for (const run of usage) {
    for (const side of run.checks) {
      process.stdout.write(
        `\nusage exactly-once (${run.label}, ${side.side}): ${side.held ? 'HELD' : 'VIOLATED'} — ${side.sent} sent, ` +
          `${side.answered} answered 200, ${side.applied} applied (${side.applied - side.answered} cut off in flight), ` +
          `${side.wrong} wrong, ${side.orgsOff} orgs off; balances ${side.balance} (expected ${side.expectedBalance}, ` +
          `Σ ledger ${side.ledger}); lowest balance_after ${side.lowest}\n`,
      );
    }
  }
  if (autoRefill) {
    const c = autoRefill.check;
    process.stdout.write(
      `\nautorefill (${autoRefill.orgs} orgs, ${autoRefill.seconds} s): ${c.held ? 'HELD' : 'VIOLATED'} — ` +
        `${autoRefill.debitsPerSecond.toFixed(0)} debits/s accepted; ${c.sent} sent, ${c.answered} answered 200, ` +
        `${c.refused} answered 402, ${c.applied} applied, ${c.wrong} wrong; refills ${c.started} started, ` +
        `${c.succeeded} succeeded, ${c.failed} failed, ${c.inFlight} still in flight (lifetime p50 ${c.refillP50Ms.toFixed(0)} ms, ` +
        `max ${c.refillMaxMs.toFixed(0)} ms); ${c.overlaps} overlapping` +
        `${c.overlaps ? ` (up to ${c.maxOverlapMs.toFixed(1)} ms)` : ''} ` +
        `(${c.waitedOnGrant} began waiting on the previous grant's balance lock${c.waitedOnGrant ? `, up to ${c.maxWaitMs.toFixed(1)} ms` : ''}), ${c.refillsNotGrantedOnce} not granted once, ` +
        `${c.orphanEntries} entries without a refill, ${c.succeededEvents} payment_intent.succeeded events received; balances ${c.balance} (expected ${c.expectedBalance}, ` +
        `Σ ledger ${c.ledger}, ${c.orgsOff} orgs off); lowest ${c.lowest}` +
        `${c.monthlyLimitHit ? '; the monthly limit was reached' : ''}\n`,
    );
  }
  if (soak) {
    process.stdout.write(
      `\nsoak RSS (MiB, every 10 s): ${soak.samples.map((s) => (s.rss / 2 ** 20).toFixed(0)).join(' ')}\n` +
        `after the first minute ${mib(soak.rssAfterFirstMinute)} MiB, at the end ${mib(soak.rssAtEnd)} MiB ` +
        `(${((soak.rssAtEnd / soak.rssAfterFirstMinute - 1) * 100).toFixed(1)}%)\n` +
        `live heap after full GCs (MiB, ${soak.fullGcs.length} collections): median of the first minute ${mib(soak.liveHeapFirstMinute)}, ` +
        `of the last minute ${mib(soak.liveHeapLastMinute)}${soak.liveHeapFirstMinute && soak.liveHeapLastMinute ? ` (${((soak.liveHeapLastMinute / soak.liveHeapFirstMinute - 1) * 100).toFixed(1)}%)` : ''}\n`,
    );
  }
}

/**
 * `bench/results/<date>-<sha>[-dirty][-quick][-<n>].json`: the results with the commit, the
 * scenarios run, the machine and the settings.
 */
export function writeReport(args: Args, results: Results, started: number, exitCode: number): void {
  const sha = git(['rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const dirty = (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
  const report = {
    date: new Date().toISOString(),
    git_sha: sha,
    git_dirty: dirty,
    quick: args.quick,
    scenarios: [...args.only],
    machine: machine(),
    settings: {
      connections: CONNECTIONS,
      rounds: args.rounds,
      seconds_per_round: args.seconds,
      warmup_seconds: args.warmupSeconds,
    },
    rows: results.rows,
    webhooks: results.webhooks.map((w) => ({
      label: w.label,
      orgs: w.orgs,
      exactly_once: w.exactlyOnce,
      outcomes: w.outcomes,
      events: args.webhookEvents,
    })),
    usage: results.usage.map((u) => ({ label: u.label, orgs: u.orgs, checks: u.checks })),
    autorefill: results.autoRefill && {
      orgs: results.autoRefill.orgs,
      seconds: results.autoRefill.seconds,
      debits_per_second: results.autoRefill.debitsPerSecond,
      statuses: results.autoRefill.sample.statuses,
      check: results.autoRefill.check,
    },
    soak: results.soak,
    cli: results.cli?.samples,
    duration_s: Math.round((Date.now() - started) / 1000),
    exit_code: exitCode,
  };
  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const name = `${report.date.slice(0, 10)}-${sha}${dirty ? '-dirty' : ''}${args.quick ? '-quick' : ''}`;
  // A later run of the same commit on the same day (an `--only` run after a full one, say)
  // takes the next free name: it never replaces an earlier run's results.
  let file = join(resultsDir, `${name}.json`);
  for (let n = 2; existsSync(file); n++) file = join(resultsDir, `${name}-${n}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`\nwritten ${file.slice(REPO_ROOT.length + 1)} (${report.duration_s} s)\n`);
}

function renderTable(rows: Row[]): string {
  const fmt = (n: number | null, digits = 0) => (n === null || Number.isNaN(n) ? '—' : n.toFixed(digits));
  const header = [
    'scenario',
    'req/s',
    'p50 ms',
    'p99 ms',
    'floor req/s',
    'floor p50',
    'floor p99',
    'ratio',
    '+p99 ms',
    'unexpected',
    'target',
    'met',
  ];
  const body = rows.map((r) => [
    r.scenario,
    fmt(r.rps),
    fmt(r.p50_ms, 1),
    fmt(r.p99_ms, 1),
    fmt(r.floor_rps),
    fmt(r.floor_p50_ms, 1),
    fmt(r.floor_p99_ms, 1),
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
    fmt(r.added_p99_ms, 1),
    String(r.unexpected),
    r.target,
    r.met === null ? '—' : r.met ? 'yes' : 'NO',
  ]);
  const lines = [header, header.map(() => '---'), ...body];
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/**
 * The five sides of each HTTP route in one run: the bare and same-work floors on Fastify and on
 * bare Nest, and the API. Nest's own share is bare Nest ÷ bare Fastify; ours is the last column.
 */
function renderOurCost(rows: Row[]): string {
  const header = [
    'scenario',
    'bare Fastify',
    'bare Nest',
    'same-work Fastify',
    'same-work Nest',
    'API',
    'Nest ÷ Fastify',
    'our cost (API ÷ same-work Nest)',
    'met',
  ];
  const withCpu = rows.some((r) => r.nest?.cpu !== undefined);
  if (withCpu) header.push('CPU µs/req: same-work Nest', 'API', 'our cost by CPU');
  const withBaseline = rows.some((r) => r.nest?.baseline_rps !== undefined);
  if (withBaseline) header.push('baseline API', 'baseline cost', 'API ÷ baseline');
  if (withBaseline && withCpu) header.push('baseline CPU µs/req');
  const body = rows.map((r) => {
    const n = r.nest!;
    return [
      r.scenario,
      n.bare_fastify_rps.toFixed(0),
      n.bare_nest_rps.toFixed(0),
      n.same_fastify_rps.toFixed(0),
      n.same_nest_rps.toFixed(0),
      r.rps.toFixed(0),
      `${n.nest_share.toFixed(2)}×`,
      `${n.our_cost.toFixed(2)}×`,
      r.met === null ? '—' : r.met ? 'yes' : 'NO',
      ...(withCpu
        ? n.cpu
          ? [n.cpu.same_nest_us.toFixed(0), n.cpu.api_us.toFixed(0), `${n.cpu.our_cost.toFixed(2)}×`]
          : ['n/a', 'n/a', 'n/a']
        : []),
      ...(withBaseline && n.baseline_rps !== undefined
        ? [n.baseline_rps.toFixed(0), `${n.baseline_our_cost!.toFixed(2)}×`, `${(r.rps / n.baseline_rps).toFixed(2)}×`]
        : []),
      ...(withBaseline && withCpu ? [n.cpu?.baseline_us?.toFixed(0) ?? 'n/a'] : []),
    ];
  });
  return [header, header.map(() => '---'), ...body].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Each miss split: design cost (same-work ÷ bare floor) and framework cost (service ÷ same-work). */
function renderSameWork(rows: Row[]): string {
  const header = ['scenario', 'bare floor req/s', 'same-work req/s', 'service req/s', 'design', 'framework', 'overall'];
  const body = rows.map((r) => {
    const w = r.same_work!;
    return [
      r.scenario,
      (r.floor_rps ?? NaN).toFixed(0),
      w.rps.toFixed(0),
      r.rps.toFixed(0),
      `${w.design.toFixed(2)}×`,
      `${w.framework.toFixed(2)}×`,
      r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
    ];
  });
  return [header, header.map(() => '---'), ...body].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Latency at a fixed rate: what the server adds to its floor's, and how it splits. */
function renderOpenLoop(rows: Row[]): string {
  const header = [
    'scenario',
    'answers/s',
    'p50 / p99 ms',
    'bare floor p50 / p99',
    'same-work p50 / p99',
    'server-added p50 / p99',
    'of which design (same-work − bare) p99',
    'framework (service − same-work) p99',
  ];
  const ms = (n: number) => n.toFixed(1);
  const body = rows.map((r) => {
    const o = r.open_loop!;
    return [
      r.scenario,
      r.rps.toFixed(0),
      `${ms(r.p50_ms)} / ${ms(r.p99_ms)}`,
      `${ms(r.floor_p50_ms!)} / ${ms(r.floor_p99_ms!)}`,
      `${ms(o.same_work_p50_ms)} / ${ms(o.same_work_p99_ms)}`,
      `${ms(r.added_p50_ms!)} / ${ms(r.added_p99_ms!)}`,
      ms(o.same_work_p99_ms - r.floor_p99_ms!),
      ms(r.p99_ms - o.same_work_p99_ms),
    ];
  });
  return [header, header.map(() => '---'), ...body].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function machine() {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpu_model: cpu[0]?.model,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadavg_at_end: loadavg().map((n) => Math.round(n * 100) / 100),
  };
}
