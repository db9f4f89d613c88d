import { sql } from 'drizzle-orm';
import { DatabaseOrgDirectory, hashApiKey, MembersRepository } from '@credits/auth';
import type { Db } from '@credits/database';
import { runCli } from '../../apps/api/src/cli/run-cli';
import { CliDatabase, cliDatabase } from './cli-database';

/**
 * Runs the admin CLI in process, against its own database: PostgreSQL with TEST_DATABASE_URL,
 * otherwise an embedded PGlite in a temporary data directory. Each command opens the database
 * anew, as a process per command does.
 */
describe('admin CLI', () => {
  let database: CliDatabase;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    database = await cliDatabase();
    env = { NODE_ENV: 'test', ...database.env };
  });
  afterAll(() => database?.drop());
  const withDb = <T>(fn: (db: Db) => Promise<T>) => database.withDb(fn);

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  /** `--json`: exactly one JSON document on stdout. */
  async function cliJson(...argv: string[]) {
    const result = await cli(...argv, '--json');
    return { ...result, json: result.code === 0 ? JSON.parse(result.out) : undefined };
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

  it('org show: id, slug, name, created, Stripe customer, balance and members, as text and as JSON', async () => {
    await withDb((db) => db.execute(sql`update organizations set stripe_customer_id = 'cus_acme' where slug = 'acme'`));
    expect((await cli('credits', 'grant', 'acme', '250', '--reason', 'Welcome')).code).toBe(0);

    const shown = await cliJson('org', 'show', 'acme');
    expect(shown).toMatchObject({ code: 0, err: '' });
    expect(shown.json).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      slug: 'acme',
      name: 'Acme Inc',
      created_at: expect.any(String),
      stripe_customer_id: 'cus_acme',
      balance: 250,
      members: 1,
    });
    expect(new Date(shown.json.created_at).toISOString()).toBe(shown.json.created_at);

    const text = await cli('org', 'show', 'acme');
    expect(text.code).toBe(0);
    expect(text.out.split('\n')).toEqual([
      `id\t${shown.json.id}`,
      'slug\tacme',
      'name\tAcme Inc',
      `created_at\t${shown.json.created_at}`,
      'stripe_customer_id\tcus_acme',
      'balance\t250',
      'members\t1',
    ]);
    expect(await cli('org', 'show', 'nope')).toMatchObject({ code: 1, out: '', err: 'error: No organization "nope"' });
  });

  it('apikey list: prefix, name, created, last used, expires, revoked, scopes; never the key or its hash', async () => {
    expect((await cli('user', 'create', 'bob@acme.test')).code).toBe(0);
    expect(await cli('apikey', 'list', 'bob@acme.test')).toMatchObject({
      code: 0,
      out: '',
      err: 'no API keys for bob@acme.test',
    });
    const first = (await cli('apikey', 'create', 'bob@acme.test', '--name', 'ci')).out;
    const second = (await cli('apikey', 'create', 'bob@acme.test', '--name', 'laptop', '--expires-in', '7d')).out;
    const [firstPrefix, secondPrefix] = [first, second].map((key) => key.slice(0, 11));
    await withDb((db) =>
      db.execute(sql`update api_keys set last_used_at = '2026-01-02T03:04:05Z' where prefix = ${firstPrefix}`),
    );
    expect((await cli('apikey', 'revoke', firstPrefix)).code).toBe(0);

    const listed = await cliJson('apikey', 'list', 'bob@acme.test');
    expect(listed.json).toEqual([
      {
        prefix: firstPrefix,
        name: 'ci',
        scopes: null,
        created_at: expect.any(String),
        last_used_at: '2026-01-02T03:04:05.000Z',
        expires_at: null,
        revoked_at: expect.any(String),
      },
      {
        prefix: secondPrefix,
        name: 'laptop',
        scopes: null,
        created_at: expect.any(String),
        last_used_at: null,
        expires_at: expect.any(String),
        revoked_at: null,
      },
    ]);
    const text = await cli('apikey', 'list', 'bob@acme.test');
    expect(text.out.split('\n').map((line) => line.split('\t'))).toEqual([
      [
        firstPrefix,
        'ci',
        listed.json[0].created_at,
        '2026-01-02T03:04:05.000Z',
        '-',
        listed.json[0].revoked_at,
        'role',
      ],
      [secondPrefix, 'laptop', listed.json[1].created_at, '-', listed.json[1].expires_at, '-', 'role'],
    ]);
    for (const output of [listed.out, text.out, text.err]) {
      for (const key of [first, second]) {
        expect(output).not.toContain(key.slice(12));
        expect(output).not.toContain(hashApiKey(key));
      }
    }
    expect((await cli('apikey', 'list', 'nobody@acme.test')).code).toBe(1);
  });

  it('apikey revoke takes the whole key too; a key that does not match revokes nothing', async () => {
    const key = (await cli('apikey', 'create', 'bob@acme.test', '--name', 'pasted')).out;
    const prefix = key.slice(0, 11);
    const forged = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;

    const wrong = await cli('apikey', 'revoke', forged);
    expect(wrong).toMatchObject({ code: 1, out: '', err: `error: No API key matches ${prefix}_…` });
    const revoked = await cliJson('apikey', 'revoke', key);
    expect(revoked).toMatchObject({ code: 0, err: '', json: { prefix, revoked_at: expect.any(String) } });
    // Messages name the key by its prefix: the secret never reaches the terminal.
    const again = await cli('apikey', 'revoke', key);
    expect(again).toMatchObject({ code: 1, err: `already_exists: API key ${prefix} is already revoked` });
    expect(again.err).not.toContain(key.slice(12));
  });

  it('member remove: the user loses the org at once; removing again or a stranger is exit 1', async () => {
    expect((await cli('member', 'add', 'acme', 'bob@acme.test', '--role', 'member')).code).toBe(0);
    const removed = await cliJson('member', 'remove', 'acme', 'alice@acme.test');
    expect(removed).toMatchObject({ code: 0, json: { org: 'acme', email: 'alice@acme.test', role: 'admin' } });
    expect((await cliJson('org', 'show', 'acme')).json.members).toBe(1);
    // What OrgAccessGuard asks on every request: Alice is no member of acme any more.
    await withDb(async (db) => {
      const directory = new DatabaseOrgDirectory(new MembersRepository(db));
      const alice = await directory.findUser('alice@acme.test');
      expect(await directory.findMemberOrg('acme', alice!.id)).toBeUndefined();
    });

    const again = await cli('member', 'remove', 'acme', 'alice@acme.test');
    expect(again).toMatchObject({ code: 1, err: 'error: alice@acme.test is not a member of acme' });
    expect((await cli('member', 'remove', 'acme', 'nobody@acme.test')).code).toBe(1);
    expect((await cli('member', 'remove', 'acme')).code).toBe(2);
  });

  it('--json on every command: one JSON document on stdout, nothing else', async () => {
    const outputs = [
      await cliJson('org', 'create', 'globex', '--name', 'Globex'),
      await cliJson('org', 'list'),
      await cliJson('user', 'create', 'carol@globex.test'),
      await cliJson('member', 'add', 'globex', 'carol@globex.test', '--role', 'owner'),
      await cliJson('apikey', 'create', 'carol@globex.test', '--name', 'deploy'),
      await cliJson('apikey', 'list', 'carol@globex.test'),
      await cliJson('credits', 'grant', 'globex', '40', '--reason', 'Trial', '--ref', 'T-1'),
      await cliJson('credits', 'show', 'globex'),
      await cliJson('org', 'show', 'globex'),
      await cliJson('member', 'remove', 'globex', 'carol@globex.test'),
    ];
    for (const output of outputs) expect(output).toMatchObject({ code: 0, err: '' });
    const [org, orgs, user, member, key, keys, grant, credits] = outputs.map((output) => output.json);
    expect(org).toEqual({ id: expect.any(String), slug: 'globex', name: 'Globex', created_at: expect.any(String) });
    expect(orgs.map((o: { slug: string }) => o.slug)).toEqual(['acme', 'globex']);
    expect(user).toEqual({ id: expect.any(String), email: 'carol@globex.test', created_at: expect.any(String) });
    expect(member).toEqual({ org: 'globex', email: 'carol@globex.test', role: 'owner' });
    expect(key).toEqual({
      key: expect.stringMatching(/^ck_/),
      prefix: key.key.slice(0, 11),
      email: 'carol@globex.test',
      scopes: null,
      expires_at: null,
    });
    expect(keys).toEqual([expect.objectContaining({ prefix: key.prefix, name: 'deploy' })]);
    expect(grant).toEqual({
      org: 'globex',
      amount: 40,
      applied: true,
      balance: 40,
      ref: 'T-1',
      grant_id: expect.any(String),
    });
    expect(credits).toMatchObject({ org: 'globex', balance: 40, entries: [{ amount: 40, description: 'Trial' }] });

    // Errors stay on stderr with the usual exit codes; stdout stays empty.
    expect(await cli('org', 'create', 'globex', '--json')).toMatchObject({ code: 1, out: '' });
    expect(await cli('--json', 'org', 'create', 'NO')).toMatchObject({ code: 2, out: '' });
    expect(await cli('org', 'show', 'nope', '--json')).toMatchObject({ code: 1, out: '' });
  });

  it.each([
    [['org', 'create', 'Not_A_Slug']],
    [['org', 'create', 'ab']],
    [['org', 'create']],
    [['org', 'show']],
    [['member', 'add', 'acme', 'alice@acme.test', '--role', 'emperor']],
    [['apikey', 'create', 'alice@acme.test', '--expires-in', 'soon']],
    [['apikey', 'create', 'alice@acme.test', '--colour', 'blue']],
    [['apikey', 'list']],
    [['frobnicate']],
    [[]],
  ])('bad arguments %j: usage, exit 2', async (argv) => {
    const result = await cli(...argv);
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^error: /);
  });

  it('unknown org or user: exit 1 with a clear message', async () => {
    const result = await cli('member', 'add', 'nope', 'alice@acme.test', '--role', 'admin');
    expect(result.code).toBe(1);
    expect(result.err).toContain('No organization "nope"');
  });
});
