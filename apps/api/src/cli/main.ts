import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { runCli } from './run-cli';

// A command lives about a second. V8 would spend it compiling the embedded database's hot
// WebAssembly functions with its optimizing tier in the background, and Node 24 waits for
// those jobs before it exits: 1.5 s more per command on PGlite. Its baseline code is enough.
setFlagsFromString('--wasm-tiering-budget=1000000000');

/** `npm run cli -- <command>` (through scripts/run-built.js) or `node dist/apps/api/src/cli/main.js <command>`. */
void runCli(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}).then((code) => process.exit(code));
