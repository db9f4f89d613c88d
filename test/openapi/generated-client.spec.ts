import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const bin = (name: string) => join(ROOT, 'node_modules/.bin', name);

/**
 * A REST consumer generates a typed client from openapi.json and calls the core operation.
 * If a schema change breaks that call (request body or either response shape), this fails.
 */
describe('a client generated from openapi.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credits-client-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('type-checks a create_checkout_session call with openapi-fetch', () => {
    execFileSync(bin('openapi-typescript'), [join(ROOT, 'openapi.json'), '-o', join(dir, 'schema.d.ts')], {
      stdio: 'pipe',
    });
    writeFileSync(
      join(dir, 'consumer.ts'),
      `import createClient from '${join(ROOT, 'node_modules/openapi-fetch')}';
import type { paths, components } from './schema';

const client = createClient<paths>({ baseUrl: 'http://localhost:3000' });

export async function buyCredits(key: string): Promise<string> {
  const { data, error } = await client.POST('/api/v1/org/{org}/credits/checkout', {
    params: { path: { org: 'acme' }, header: { 'Idempotency-Key': 'k-1' } },
    headers: { Authorization: \`Bearer \${key}\` },
    body: { success_url: 'https://app.example.com/ok?id={CHECKOUT_SESSION_ID}', cancel_url: 'https://app.example.com/no', quantity: 2 },
  });
  if (error) {
    const envelope: components['schemas']['APIErrorPayload'] = error;
    const code: number = envelope.code;
    const type: string = envelope.type;
    const firstLoc = envelope.errors?.[0]?.loc;
    throw new Error(\`\${code} \${type} \${String(firstLoc)}\`);
  }
  const url: string = data.checkout_url;
  const id: string = data.session_id;
  return url + id;
}

// A body that breaks the contract must not compile.
export async function wrong() {
  await client.POST('/api/v1/org/{org}/credits/checkout', {
    params: { path: { org: 'acme' } },
    // @ts-expect-error quantity is an integer, not a string
    body: { success_url: 'https://a.example', cancel_url: 'https://b.example', quantity: '2' },
  });
}
`,
    );
    const result = (() => {
      try {
        execFileSync(
          bin('tsc'),
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
            join(dir, 'consumer.ts'),
          ],
          { stdio: 'pipe' },
        );
        return '';
      } catch (error) {
        return String((error as { stdout?: Buffer }).stdout ?? error);
      }
    })();
    expect(result).toBe('');
  });
});
