/** Wrong arguments: the CLI prints the usage and exits 2. */
export class UsageError extends Error {}

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string>;
  /** Every value of each flag, in order: `--org a --org b` -> {org: [a, b]} (`flags` has the last). */
  lists: Record<string, string[]>;
  /** Options that take no value (`--dry-run`), present or not. */
  switches: Set<string>;
}

/**
 * `a b --name X --role=admin --dry-run` -> positional [a, b], flags {name: X, role: admin}, switches {dry-run}.
 * A flag may repeat (`--org a --org b`); `lists` keeps every value.
 */
export function parseArgs(argv: string[], allowedFlags: string[], allowedSwitches: string[] = []): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    if (allowedSwitches.includes(arg.slice(2))) {
      switches.add(arg.slice(2));
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (!allowedFlags.includes(name)) throw new UsageError(`unknown option --${name}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags[name] = value;
    (lists[name] ??= []).push(value);
  }
  return { positional, flags, lists, switches };
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30d`, `12h`, `90m`, `3600s` -> milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text);
  if (!match || Number(match[1]) === 0)
    throw new UsageError(`--expires-in must look like 30d, 12h, 90m or 3600s (got "${text}")`);
  return Number(match[1]) * UNIT_MS[match[2]];
}
