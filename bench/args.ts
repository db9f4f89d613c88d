import { fail } from './log';

export const SCENARIOS = [
  'checkout',
  'invalid',
  'balance',
  'latency',
  'webhook',
  'usage',
  'autorefill',
  'soak',
  'cli',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

const USAGE = `usage: npm run bench -- [--quick] [--only checkout,invalid,balance,latency,webhook,usage,autorefill,soak,cli]
                 [--soak-seconds N] [--rounds N] [--seconds N] [--webhook-events N]
                 [--cpu-prof api,floor,nest-floor,emulator,baseline] [--baseline DIR]`;

export interface Args {
  quick: boolean;
  only: Set<Scenario>;
  soakSeconds: number;
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  webhookEvents: number;
  /** How long the auto-refill scenario debits. */
  autoRefillSeconds: number;
  /** How many times the CLI scenario runs a command on each database. */
  cliRuns: number;
  /** Open-loop (fixed arrival rate) runs: the rates, and how long each side runs at each. */
  latency: { rates: number[]; seconds: number; rounds: number; warmUp: boolean };
  cpuProf: Set<string>;
  /**
   * A built checkout of another commit (its `dist/`), served beside the API as one more side of
   * the HTTP scenarios: a change's before and after, measured in one run.
   */
  baseline: string | undefined;
}

export function parseArgs(argv: string[]): Args {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick' || arg === '--help') flags.add(arg);
    else if (/^--[a-z-]+$/.test(arg) && argv[i + 1] !== undefined) values.set(arg, argv[++i]);
    else if (/^--[a-z-]+=/.test(arg)) values.set(arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1));
    else fail(`unknown argument "${arg}"\n${USAGE}`);
  }
  if (flags.has('--help')) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const quick = flags.has('--quick');
  const int = (name: string, fallback: number, min: number): number => {
    const raw = values.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) fail(`${name} must be an integer >= ${min}`);
    return n;
  };
  const soakSeconds = int('--soak-seconds', 600, 10);
  let only: Set<Scenario>;
  if (values.has('--only')) {
    only = new Set();
    for (const name of values.get('--only')!.split(',')) {
      if (!(SCENARIOS as readonly string[]).includes(name))
        fail(`--only: unknown scenario "${name}" (${SCENARIOS.join(', ')})`);
      only.add(name as Scenario);
    }
  } else {
    // The soak is long: it runs only when asked for.
    only = new Set(SCENARIOS.filter((s) => s !== 'soak' || values.has('--soak-seconds')));
  }
  return {
    quick,
    only,
    soakSeconds,
    // Quick: one round a side. It proves the harness, and is held to no target; with two its
    // run took 118–127 s here, over CI's 2 minutes on a slow hour of this machine.
    rounds: int('--rounds', quick ? 1 : 3, 1),
    seconds: int('--seconds', quick ? 1 : 5, 1),
    warmupSeconds: quick ? 1 : 2,
    webhookEvents: int('--webhook-events', quick ? 200 : 2000, 1),
    autoRefillSeconds: quick ? 4 : 20,
    cliRuns: quick ? 2 : 10,
    // Quick: one rate, 2 s a side, no warm-up (proves the generator); full: 100 and 300 req/s, 5 s a
    // side after a warm-up, three times: the median of three is not moved by the one round a stall
    // of this machine lands in.
    latency: quick
      ? { rates: [100], seconds: 2, rounds: 1, warmUp: false }
      : { rates: [100, 300], seconds: 5, rounds: 3, warmUp: true },
    cpuProf: new Set((values.get('--cpu-prof') ?? '').split(',').filter(Boolean)),
    baseline: values.get('--baseline'),
  };
}
