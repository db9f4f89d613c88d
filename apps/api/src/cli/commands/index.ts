import { parseArgs, type ParsedArgs, UsageError } from '../arguments';
import type { CliServices, Command } from '../command';
import type { CommandOutput } from '../command-output';
import { apiKeyCommands } from './apikey';
import { creditsCommands } from './credits';
import { memberCommands } from './member';
import { notifyCommands } from './notify';
import { orgCommands } from './org';
import { stripeCommands } from './stripe';
import { userCommands } from './user';

export { CliFailure, type BillingServices, type CliServices } from '../command';

/** Every command, by its two words, in the order the usage lists them. */
const COMMANDS: Record<string, Command> = {
  ...orgCommands,
  ...userCommands,
  ...memberCommands,
  ...apiKeyCommands,
  ...creditsCommands,
  ...stripeCommands,
  ...notifyCommands,
};

const COLUMN = 41;

export const USAGE = `Usage: npm run cli -- <command> [--json]

${Object.entries(COMMANDS)
  .map(([name, { args, help }]) => {
    const synopsis = `  ${name}${args ? ` ${args}` : ''}`;
    const [first, ...more] = help;
    const head =
      synopsis.length < COLUMN ? [synopsis.padEnd(COLUMN) + first] : [synopsis, `${' '.repeat(COLUMN)}${first}`];
    return [...head, ...more.map((line) => ' '.repeat(COLUMN) + line)].join('\n');
  })
  .join('\n')}

  --json                                   any command: one JSON document on stdout instead of text
`;

export interface ResolvedCommand {
  args: ParsedArgs;
  billing: boolean;
  run: (services: CliServices) => Promise<CommandOutput>;
}

/** The command named by the first two words, its arguments parsed and checked. */
export function resolveCommand(argv: string[]): ResolvedCommand {
  const name = argv.slice(0, 2).join(' ');
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new UsageError(argv.length === 0 ? 'no command given' : `unknown command "${name}"`);
  const args = parseArgs(argv.slice(2), command.flags ?? [], command.switches ?? []);
  const [min, max] =
    typeof command.positional === 'number' ? [command.positional, command.positional] : command.positional;
  if (args.positional.length < min || args.positional.length > max)
    throw new UsageError(`expected ${name}${command.args ? ` ${command.args}` : ''}`);
  command.check?.(args);
  return { args, billing: command.billing === true, run: (services) => command.run(services, args) };
}
