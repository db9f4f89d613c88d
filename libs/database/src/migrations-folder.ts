import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const RELATIVE = join('libs', 'database', 'migrations');
const isSql = (name: string) => name.endsWith('.sql');

/**
 * The committed SQL migrations, found from this file whether it runs from the TypeScript
 * sources (`libs/database/src`) or from the build (`dist/libs/database/src`): walk up to a
 * directory holding `package.json` and `libs/database/migrations`. (A `dist/package.json`
 * copied by the compiler has no migrations next to it and is walked past.)
 */
export function resolveMigrationsFolder(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      const candidate = join(dir, RELATIVE);
      // The SQL too: the whole-tree type check copies the journal (a test imports it) into
      // dist/libs/database/migrations without the .sql files beside it.
      if (existsSync(join(candidate, 'meta', '_journal.json')) && readdirSync(candidate).some(isSql)) return candidate;
    }
    if (dirname(dir) === dir) break;
  }
  throw new Error(
    `cannot find ${RELATIVE} above ${from}; run from the repository (or its build) with the migrations folder present`,
  );
}
