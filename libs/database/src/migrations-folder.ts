import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const RELATIVE = join('libs', 'database', 'migrations');

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
      if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    }
    if (dirname(dir) === dir) break;
  }
  throw new Error(
    `cannot find ${RELATIVE} above ${from}; run from the repository (or its build) with the migrations folder present`,
  );
}
