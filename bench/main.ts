/**
 * `npm run bench [-- options]`: the API's hot paths against their floors, side by side.
 *
 * Processes: this one generates the load (autocannon); the API, the floor server and the
 * Stripe emulator each run in their own process (`stack.ts`), on a fresh PostgreSQL database
 * that is dropped at the end. One file a scenario in `scenarios/`. See bench/README.md.
 */
import { parseArgs, type Args } from './args';
import { createBenchDatabase, type BenchDatabase } from './database';
import { log } from './log';
import { type Service, stopAllServices } from './processes';
import { printResults, writeReport, type Results } from './report';
import { autoRefillScenario } from './scenarios/autorefill';
import { balanceScenario } from './scenarios/balance';
import { checkoutScenario } from './scenarios/checkout';
import { cliScenario } from './scenarios/cli';
import { invalidScenario } from './scenarios/invalid';
import { latencyScenario } from './scenarios/latency';
import { soakScenario } from './scenarios/soak';
import { usageScenarios } from './scenarios/usage';
import { webhookScenarios } from './scenarios/webhook';
import { seed } from './seed';
import { PROFILE_DIR, startStack, type Stack } from './stack';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const services: Service[] = [];
  /** Awaited by the clean-up: a signal while it is being made still drops it once made. */
  let databaseMade: Promise<BenchDatabase> | undefined;
  let exitCode = 0;
  let signalled = false;
  let stopping: Promise<void> | undefined;
  // Once, whoever asks first (a signal or the end of the run): services in reverse order of
  // start, then any server still starting, then the database.
  const cleanup = () =>
    (stopping ??= (async () => {
      for (const service of [...services].reverse()) await service.stop().catch(() => undefined);
      await stopAllServices();
      await databaseMade
        ?.then((made) => made.drop())
        .catch((err: unknown) => log(`could not drop the bench database: ${String(err)}`));
    })());
  // Stopped from a terminal (SIGINT) or by a job runner or `kill` (SIGTERM): its servers stop
  // with it and its database is dropped; nothing is left running against a dropped database.
  // A second signal while it cleans up changes nothing.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      if (signalled) return;
      signalled = true;
      void cleanup().then(() => process.exit(code));
    });
  }

  try {
    databaseMade = createBenchDatabase();
    const database = await databaseMade;
    log(`database ${database.name}; scenarios: ${[...args.only].join(', ')}${args.quick ? ' (quick)' : ''}`);
    const seeded = await seed(database.url);
    const stack = await startStack(args, database.url, seeded, services);
    const results = await runScenarios(stack, args);

    if (results.webhooks.some((w) => !w.exactlyOnce.held)) exitCode = 1;
    if (results.usage.some((u) => u.checks.some((c) => !c.held))) exitCode = 1;
    if (results.autoRefill && !results.autoRefill.check.held) exitCode = 1;
    const unexpected = results.rows.reduce((n, r) => n + r.unexpected, 0);
    if (unexpected > 0) exitCode = 1;
    printResults(results);
    writeReport(args, results, started, exitCode);
    if (unexpected > 0)
      process.stderr.write(`bench: ${unexpected} unexpected responses (see the table): failing the run\n`);
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
    for (const service of services) {
      if (service.child.exitCode !== null)
        process.stderr.write(`--- ${service.name} output:\n${service.output.slice(-20).join('\n')}\n`);
    }
    exitCode = 1;
  } finally {
    await cleanup();
  }
  if (args.cpuProf.size > 0) log(`CPU profiles in ${PROFILE_DIR}`);
  process.exit(exitCode);
}

/** The scenarios `--only` selects, in the table's order. */
async function runScenarios(stack: Stack, args: Args): Promise<Results> {
  const rounds = { rounds: args.rounds, seconds: args.seconds, warmupSeconds: args.warmupSeconds };
  const results: Results = {
    rows: [],
    webhooks: [],
    usage: [],
    autoRefill: undefined,
    soak: undefined,
    cli: undefined,
  };
  if (args.only.has('checkout')) results.rows.push(await checkoutScenario(stack, rounds));
  if (args.only.has('invalid')) results.rows.push(await invalidScenario(stack, rounds));
  if (args.only.has('balance')) results.rows.push(await balanceScenario(stack, rounds));
  if (args.only.has('latency')) results.rows.push(...(await latencyScenario(stack, args.latency)));
  if (args.only.has('webhook')) {
    results.webhooks = await webhookScenarios(stack, args.webhookEvents);
    results.rows.push(...results.webhooks.flatMap((w) => w.rows));
  }
  if (args.only.has('usage')) {
    results.usage = await usageScenarios(stack, rounds);
    results.rows.push(...results.usage.map((u) => u.row));
  }
  if (args.only.has('autorefill')) {
    results.autoRefill = await autoRefillScenario(stack, args.autoRefillSeconds);
    results.rows.push(results.autoRefill.row);
  }
  if (args.only.has('cli')) {
    results.cli = await cliScenario(stack, args.cliRuns);
    results.rows.push(...results.cli.rows);
  }
  if (args.only.has('soak')) {
    results.soak = await soakScenario(stack, args.soakSeconds);
    results.rows.push(results.soak.row);
  }
  return results;
}

void main();
