import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../apps/api/src/cli/main';

/** Runs the admin CLI against an embedded database in a temporary data directory. */
describe('admin CLI', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'credits-cli-'));
  const env = { DATA_DIR: dataDir, NODE_ENV: 'test' } as NodeJS.ProcessEnv;
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('sets up an org, a user, a membership and a key; the key alone goes to stdout', async () => {
    expect((await cli('org', 'create', 'acme', '--name', 'Acme Inc')).code).toBe(0);
    expect((await cli('user', 'create', 'Alice@Acme.test')).code).toBe(0);
    expect((await cli('member', 'add', 'acme', 'alice@acme.test', '--role', 'admin')).code).toBe(0);
    const key = await cli('apikey', 'create', 'alice@acme.test', '--name', 'laptop', '--expires-in', '30d');
    expect(key.code).toBe(0);
    expect(key.out).toMatch(/^ck_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    expect(key.err).toMatch(/expires/);
    const list = await cli('org', 'list');
    expect(list.out).toBe('acme\tAcme Inc\t1 member(s)');

    const prefix = key.out.split('_').slice(0, 2).join('_');
    expect((await cli('apikey', 'revoke', prefix)).code).toBe(0);
    const again = await cli('apikey', 'revoke', prefix);
    expect(again.code).toBe(1);
  });

  it('creating what exists: already_exists, exit 1', async () => {
    const result = await cli('org', 'create', 'acme');
    expect(result).toMatchObject({ code: 1, out: '' });
    expect(result.err).toMatch(/^already_exists: /);
    expect((await cli('member', 'add', 'acme', 'alice@acme.test', '--role', 'member')).code).toBe(1);
  });

  it.each([
    [['org', 'create', 'Not_A_Slug']],
    [['org', 'create', 'ab']],
    [['org', 'create']],
    [['member', 'add', 'acme', 'alice@acme.test', '--role', 'emperor']],
    [['apikey', 'create', 'alice@acme.test', '--expires-in', 'soon']],
    [['apikey', 'create', 'alice@acme.test', '--colour', 'blue']],
    [['frobnicate']],
    [[]],
  ])('bad arguments %j: usage, exit 2', async (argv) => {
    const result = await cli(...argv);
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
  });

  it('unknown org or user: exit 1 with a clear message', async () => {
    const result = await cli('member', 'add', 'nope', 'alice@acme.test', '--role', 'admin');
    expect(result.code).toBe(1);
    expect(result.err).toContain('No organization "nope"');
  });
});
