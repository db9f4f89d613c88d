import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DirectoryAdmin } from '@credits/auth/admin/directory-admin';
import { LedgerRepository } from '@credits/billing/ledger/ledger.repository';
import { loadConfig } from '@credits/config';
import { DB } from '@credits/database';
import { ApiException } from '@credits/errors/api-exception';
import { createPino, logDestination, PinoLoggerService } from '../logging/logger';
import { UsageError } from './arguments';
import { CliModule, loadBilling } from './cli.module';
import type { CommandOutput } from './command-output';
import { BillingServices, resolveCommand, USAGE } from './commands';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * The admin CLI: the server's configuration and database, through a Nest application context
 * of `CliModule`. `--json` anywhere prints one JSON document on stdout instead of text; errors
 * go to stderr either way. Exit codes: 0 done, 1 failed (e.g. already_exists, not found),
 * 2 bad arguments.
 */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  let app: INestApplicationContext | undefined;
  try {
    const command = resolveCommand(argv.filter((arg) => arg !== '--json'));
    const config = loadConfig({ ...env, LOG_LEVEL: env.LOG_LEVEL ?? 'warn' });
    // stderr, written at once: stdout is the command's, and the process exits right after.
    const logger = new CliLogger(createPino(config, logDestination(config, { fd: 2, sync: true })));
    const billing = command.billing ? await loadBilling() : undefined;
    const context = await NestFactory.createApplicationContext(CliModule.forRoot(config, billing?.imports), {
      logger,
      abortOnError: false,
    });
    app = context;
    const output = await command.run({
      db: context.get(DB),
      directory: context.get(DirectoryAdmin),
      entries: context.get(LedgerRepository),
      billing: () => {
        if (!billing) throw new Error('a command that uses billing services must declare billing: true');
        return billing.services(context) satisfies BillingServices;
      },
    });
    print(output, json, io);
    if (output.failure === undefined) return 0;
    io.err(`error: ${output.failure}`);
    return 1;
  } catch (error) {
    return fail(error, io);
  } finally {
    await app?.close();
  }
}

/**
 * The CLI reports every failure itself, in one line on stderr; Nest's own report of a context
 * that could not boot (a database that does not answer) would say it again, with a stack.
 */
class CliLogger extends PinoLoggerService {
  override error(message: unknown, ...params: unknown[]): void {
    if (params.at(-1) !== 'ExceptionHandler') super.error(message, ...params);
  }
}

function print(output: CommandOutput, json: boolean, io: CliIo): void {
  if (json) {
    io.out(JSON.stringify(output.json, null, 2));
    return;
  }
  if (output.note) io.err(output.note);
  for (const line of output.lines ?? []) io.out(line);
}

function fail(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    io.err(`error: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (error instanceof ApiException) {
    io.err(`${error.type === 'already_exists_error' ? 'already_exists' : 'error'}: ${error.detail}`);
    return error.type === 'invalid_request_error' ? 2 : 1;
  }
  // CliFailure, ConfigError, a database that cannot be reached: one line, no stack.
  io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
  return 1;
}
