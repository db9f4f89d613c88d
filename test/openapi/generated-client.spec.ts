import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const CLIENT = join(ROOT, 'clients/typescript');

/** Runs a command; its output when it fails, '' when it succeeds. */
function failureOf(command: string, args: string[], cwd: string): string {
  try {
    execFileSync(command, args, { cwd, stdio: 'pipe' });
    return '';
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
    return `${String(stdout ?? '')}${String(stderr ?? '')}` || String(error);
  }
}

/**
 * The committed client (clients/typescript) as a REST consumer uses it: generated from the
 * committed openapi.json, and compiled the way an outside project compiles it.
 */
describe('the TypeScript client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credits-client-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is generated from the committed openapi.json (npm run client:generate)', () => {
    expect(failureOf('npm', ['run', 'client:generate', '--silent', '--', '--check'], ROOT)).toBe('');
  });

  it("type-checks the README's example and the consumer contract in a project of its own", () => {
    const readme = readFileSync(join(CLIENT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    expect(blocks.length).toBeGreaterThan(0);
    const example = join(dir, 'readme-example.ts');
    writeFileSync(example, blocks.join('\n').replaceAll("'./clients/typescript/src'", `'${join(CLIENT, 'src')}'`));

    const compile = (...files: string[]) =>
      failureOf(
        join(ROOT, 'node_modules/.bin/tsc'),
        [
          '--noEmit',
          '--strict',
          '--skipLibCheck',
          '--target',
          'es2022',
          '--module',
          'esnext',
          '--moduleResolution',
          'bundler',
          '--lib',
          'es2022,dom',
          ...files,
        ],
        // Outside the repository: no @types from its node_modules leak into the compilation.
        dir,
      );
    expect(compile(example, join(__dirname, 'client-contract.ts'))).toBe('');
  });
});
