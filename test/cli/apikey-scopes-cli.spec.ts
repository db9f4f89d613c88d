import { asc, eq } from 'drizzle-orm';
import { hashApiKey } from '@credits/auth';
import { apiKeyOrgs, apiKeys, organizations } from '@credits/database';
import { cliSpecDatabase } from './cli-database';

const KEY = /^ck_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}$/;

/** `apikey create --service`, `--scope`, `--org`; `apikey list --services`; revoking a service key. */
describe('admin CLI: service keys and scopes', () => {
  const { cli, withDb } = cliSpecDatabase();

  beforeAll(async () => {
    for (const slug of ['acme', 'globex', 'initech']) expect((await cli('org', 'create', slug)).code).toBe(0);
    expect((await cli('user', 'create', 'alice@acme.test')).code).toBe(0);
    expect((await cli('member', 'add', 'acme', 'alice@acme.test', '--role', 'member')).code).toBe(0);
  });

  /** The key's row and the slugs of the orgs it is limited to, read behind the CLI's back. */
  const row = (prefix: string) =>
    withDb(async (db) => {
      const [key] = await db
        .select({ id: apiKeys.id, userId: apiKeys.userId, serviceName: apiKeys.serviceName, scopes: apiKeys.scopes })
        .from(apiKeys)
        .where(eq(apiKeys.prefix, prefix));
      const orgs = await db
        .select({ slug: organizations.slug })
        .from(apiKeyOrgs)
        .innerJoin(organizations, eq(organizations.id, apiKeyOrgs.orgId))
        .where(eq(apiKeyOrgs.apiKeyId, key.id))
        .orderBy(asc(organizations.slug));
      return { ...key, orgs: orgs.map((org) => org.slug) };
    });

  it('a service key on every org: the key alone on stdout, no user, its scopes, no org limit', async () => {
    const created = await cli(
      'apikey',
      'create',
      '--service',
      'sandbox-runner',
      '--scope',
      'credits:spend,credits:read',
    );
    expect(created.code).toBe(0);
    expect(created.out).toEqual([expect.stringMatching(KEY)]);
    expect(created.err).toMatch(/service key ck_\w{8} for sandbox-runner \(credits:read, credits:spend on every org\)/);
    expect(await row(created.out[0].slice(0, 11))).toMatchObject({
      userId: null,
      serviceName: 'sandbox-runner',
      scopes: ['credits:read', 'credits:spend'],
      orgs: [],
    });
  });

  it('--org repeats and takes a comma list; --json gives the key, its scopes and orgs', async () => {
    const created = await cli(
      'apikey',
      'create',
      '--service',
      'model-gateway',
      '--scope',
      'credits:spend',
      '--scope',
      'org:read',
      '--org',
      'acme',
      '--org',
      'globex,initech',
      '--json',
    );
    expect(created).toMatchObject({ code: 0, err: '' });
    const json = JSON.parse(created.out.join('\n'));
    expect(json).toEqual({
      key: expect.stringMatching(KEY),
      prefix: json.key.slice(0, 11),
      service: 'model-gateway',
      scopes: ['org:read', 'credits:spend'],
      orgs: ['acme', 'globex', 'initech'],
      expires_at: null,
    });
    expect((await row(json.prefix)).orgs).toEqual(['acme', 'globex', 'initech']);
  });

  it.each([
    [['--scope', 'credits:spend,credits:write'], /unknown scope "credits:write"; scopes are org:read, credits:read/],
    [['--scope', 'credits:spend', '--org', 'acme,nope'], /No organization "nope"/],
    [[], /a service key needs --scope/],
    [['--scope', 'credits:read,credits:purchase'], /cannot carry credits:purchase: a Checkout purchase records/],
  ])('refuses %j with a clear message, exit 1, and creates no key', async (extra, message) => {
    const result = await cli('apikey', 'create', '--service', 'bad', ...extra);
    expect(result).toMatchObject({ code: 1, out: [] });
    expect(result.err).toMatch(message);
    expect(result.err).not.toMatch(/Usage:/);
    const listed = await cli('apikey', 'list', '--services', '--json');
    expect(JSON.parse(listed.out.join('\n')).map((k: { service: string }) => k.service)).not.toContain('bad');
  });

  it.each([
    [['apikey', 'create', 'alice@acme.test', '--service', 'x', '--scope', 'credits:read']],
    [['apikey', 'create', '--scope', 'credits:read']],
    [['apikey', 'list', 'alice@acme.test', '--services']],
  ])('%j: a user key or a service key, not both nor neither: usage, exit 2', async (argv) => {
    const result = await cli(...argv);
    expect(result).toMatchObject({ code: 2, out: [] });
    expect(result.err).toMatch(/^error: /);
  });

  it("a user's key narrowed by --scope, or given credits:spend; --org is for service keys only", async () => {
    const narrowed = await cli('apikey', 'create', 'alice@acme.test', '--name', 'reader', '--scope', 'credits:read');
    expect(narrowed.code).toBe(0);
    expect(narrowed.out).toEqual([expect.stringMatching(KEY)]);
    expect(narrowed.err).toMatch(/scopes credits:read, within the role's/);
    const spender = await cli(
      'apikey',
      'create',
      'alice@acme.test',
      '--name',
      'meter',
      '--scope',
      'credits:spend',
      '--json',
    );
    expect(JSON.parse(spender.out.join('\n'))).toMatchObject({ email: 'alice@acme.test', scopes: ['credits:spend'] });
    expect(await row(narrowed.out[0].slice(0, 11))).toMatchObject({ serviceName: null, scopes: ['credits:read'] });

    const unknown = await cli('apikey', 'create', 'alice@acme.test', '--scope', 'admin');
    expect(unknown).toMatchObject({ code: 1, out: [] });
    expect(unknown.err).toMatch(/unknown scope "admin"/);
    const withOrg = await cli('apikey', 'create', 'alice@acme.test', '--scope', 'credits:read', '--org', 'acme');
    expect(withOrg).toMatchObject({ code: 1, out: [] });
    expect(withOrg.err).toMatch(/--org limits a service key/);

    const listed = await cli('apikey', 'list', 'alice@acme.test');
    expect(listed.out.map((line) => line.split('\t').at(-1))).toEqual(['credits:read', 'credits:spend']);
  });

  it('apikey list --services: prefix, service, name, scopes, orgs, dates; never the key; revoke works on them', async () => {
    const key = (await cli('apikey', 'create', '--service', 'billing-sync', '--scope', 'credits:read', '--name', 'eu'))
      .out[0];
    const prefix = key.slice(0, 11);
    expect(await cli('apikey', 'revoke', prefix)).toMatchObject({ code: 0, err: `revoked API key ${prefix}` });

    const json = JSON.parse((await cli('apikey', 'list', '--services', '--json')).out.join('\n'));
    expect(json.map((k: { service: string }) => k.service)).toEqual([
      'billing-sync',
      'model-gateway',
      'sandbox-runner',
    ]);
    expect(json[0]).toEqual({
      prefix,
      service: 'billing-sync',
      name: 'eu',
      scopes: ['credits:read'],
      orgs: null,
      created_at: expect.any(String),
      last_used_at: null,
      expires_at: null,
      revoked_at: expect.any(String),
    });
    expect(json[1]).toMatchObject({
      service: 'model-gateway',
      name: 'model-gateway',
      orgs: ['acme', 'globex', 'initech'],
    });

    const text = await cli('apikey', 'list', '--services');
    expect(text.out.map((line) => line.split('\t'))).toEqual([
      [prefix, 'billing-sync', 'eu', 'credits:read', '*', json[0].created_at, '-', '-', json[0].revoked_at],
      [
        json[1].prefix,
        'model-gateway',
        'model-gateway',
        'org:read,credits:spend',
        'acme,globex,initech',
        json[1].created_at,
        '-',
        '-',
        '-',
      ],
      [
        json[2].prefix,
        'sandbox-runner',
        'sandbox-runner',
        'credits:read,credits:spend',
        '*',
        json[2].created_at,
        '-',
        '-',
        '-',
      ],
    ]);
    expect(text.out.join('\n')).not.toContain(key.slice(12));
    expect(text.out.join('\n')).not.toContain(hashApiKey(key));
    expect(await cli('apikey', 'revoke', prefix)).toMatchObject({ code: 1 });
  });
});
