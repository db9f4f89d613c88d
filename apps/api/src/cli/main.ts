import 'reflect-metadata';
import { runCli } from './run-cli';

/** `npm run cli -- <command>` (through scripts/run-built.js) or `node dist/apps/api/src/cli/main.js <command>`. */
void runCli(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}).then((code) => process.exit(code));
