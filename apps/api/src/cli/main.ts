import 'reflect-metadata';
import { ConfigError, loadConfig } from '@credits/config';
import { openDatabase } from '@credits/database';
import { ApiException } from '@credits/errors';
import { UsageError } from './arguments';
import { CliFailure, CliIo, resolveCommand, USAGE } from './commands';

/**
 * The admin CLI: same configuration and database as the server.
 * Exit codes: 0 done, 1 failed (e.g. already_exists, not found), 2 bad arguments.
 */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let command;
  let rest: string[];
  try {
    [command, rest] = resolveCommand(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  let database;
  try {
    const config = loadConfig({ ...env, LOG_LEVEL: env.LOG_LEVEL ?? 'warn' });
    database = await openDatabase({ url: config.database.url, dataDir: config.database.dataDir, poolMax: 2 });
    await command(database.db, rest, io, config);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof ApiException) {
      io.err(`${error.type === 'already_exists_error' ? 'already_exists' : 'error'}: ${error.detail}`);
      return error.type === 'invalid_request_error' ? 2 : 1;
    }
    if (error instanceof CliFailure) {
      io.err(`error: ${error.message}`);
      return 1;
    }
    io.err(`error: ${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await database?.close();
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2), process.env, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  }).then((code) => process.exit(code));
}
