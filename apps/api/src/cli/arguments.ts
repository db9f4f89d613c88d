/** Wrong arguments: the CLI prints the usage and exits 2. */
export class UsageError extends Error {}

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string>;
}

/** `a b --name X --role=admin` -> positional [a, b], flags {name: X, role: admin}. */
export function parseArgs(argv: string[], allowedFlags: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (!allowedFlags.includes(name)) throw new UsageError(`unknown option --${name}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags[name] = value;
  }
  return { positional, flags };
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30d`, `12h`, `90m`, `3600s` -> milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text);
  if (!match || Number(match[1]) === 0)
    throw new UsageError(`--expires-in must look like 30d, 12h, 90m or 3600s (got "${text}")`);
  return Number(match[1]) * UNIT_MS[match[2]];
}
