import { eq, sql } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { CredentialCache, DirectoryAdmin } from '@credits/auth';
import { apiKeys, type Db } from '@credits/database';
import { bearer, TEST_JWT_SECRET } from '../support/auth';
import { Instance, seedMember, startInstance } from '../support/instance';
import { createPostgresDatabase, PostgresDatabase } from '../support/services';
import { cliRunner } from '../cli/cli-database';
import { until } from '../support/until';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function jwt(sub: string) {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

const prefixOf = (key: string) => key.split('_').slice(0, 2).join('_');

async function lastUsedAt(db: Db, key: string): Promise<Date | null> {
  const [row] = await db
    .select({ lastUsedAt: apiKeys.lastUsedAt })
    .from(apiKeys)
    .where(eq(apiKeys.prefix, prefixOf(key)));
  return row.lastUsedAt;
}

/**
 * Two API instances on one PostgreSQL database, each with its credential cache: a change made
 * with the admin CLI (another process, as far as the instances know) reaches both through
 * NOTIFY. Runs in the PostgreSQL run only (`npm run test:pglite` leaves it out).
 */
describe('credential cache: two instances, one PostgreSQL, changes by the CLI', () => {
  let database: PostgresDatabase;
  let a: Instance;
  let b: Instance;
  const cli = cliRunner(() => ({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: database.url }));
  const cacheOf = (instance: Instance) => instance.app.get(CredentialCache);

  /** What each instance answers `credential` on `path` (status, and the error type if any). */
  const answers = (credential: string, path = '/api/v1/org/acme') =>
    Promise.all(
      [a, b].map((instance) =>
        instance
          .request('GET', path, { headers: bearer(credential) })
          .then((res) => (res.status < 400 ? res.status : `${res.status} ${res.body?.type}`)),
      ),
    );

  /** Polls both instances until both answer `expected`; fails past `withinMs`. */
  async function bothAnswer(expected: number | string, credential: string, path?: string, withinMs = 1000) {
    let seen: Array<number | string> = [];
    await until(
      `both instances to answer ${expected}`,
      async () => (seen = await answers(credential, path)).every((answer) => answer === expected),
      withinMs,
    ).catch((error: Error) => {
      throw new Error(`${error.message} (they answer ${seen.join(', ')})`);
    });
  }

  /** Both answer 200, twice: the second from their caches, which hold it. */
  async function warm(credential: string, path?: string) {
    expect(await answers(credential, path)).toEqual([200, 200]);
    expect(await answers(credential, path)).toEqual([200, 200]);
    expect(cacheOf(a).size).toBeGreaterThan(0);
    expect(cacheOf(b).size).toBeGreaterThan(0);
  }

  async function bothServing(withinMs = 5000) {
    await until('the credential caches to listen', () => cacheOf(a).serving && cacheOf(b).serving, withinMs);
  }

  let env: Record<string, string>;
  beforeAll(async () => {
    database = await createPostgresDatabase();
    env = {
      DATABASE_URL: database.url,
      API_KEY_LAST_USED_FLUSH_MS: '200',
      // Polling makes many requests, refused ones among them.
      RATE_LIMIT_READ: '100000',
      RATE_LIMIT_AUTH_FAILURES: '100000',
    };
    [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
    await bothServing();
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await database?.drop();
  });

  it('a key revoked with the CLI is refused by both instances within a second', async () => {
    const key = await seedMember(a.db, 'acme', 'alice@acme.test', 'member');
    await warm(key);

    const revoke = await cli('apikey', 'revoke', prefixOf(key));
    expect(revoke.code).toBe(0);
    await bothAnswer('401 authentication_error', key);
  });

  it('once an instance refuses a revoked key it never serves it again', async () => {
    const key = await seedMember(a.db, 'acme', 'bob@acme.test', 'member');
    await warm(key);
    const seen: Array<Array<number | string>> = [[], []];
    let stop = false;
    // Requests in flight on both instances while the key is revoked: a read that began before
    // the revocation must not put the key back into a cache after it.
    const hammer = [a, b].map(async (instance, i) => {
      while (!stop) {
        const res = await instance.request('GET', '/api/v1/org/acme', { headers: bearer(key) });
        seen[i].push(res.status);
      }
    });
    await until('both instances answered', () => seen.every((answers) => answers.length > 0));
    const beforeRevoke = seen.map((answers) => answers.length);
    expect((await cli('apikey', 'revoke', prefixOf(key))).code).toBe(0);
    await bothAnswer('401 authentication_error', key);
    // Each instance answers 20 more requests once it refused: none of them may be a 200.
    const refusedBy = seen.map((answers) => answers.length);
    await until('20 more answers from each instance', () =>
      seen.every((answers, i) => answers.length >= refusedBy[i] + 20),
    );
    stop = true;
    await Promise.all(hammer);

    for (const [i, answers] of seen.entries()) {
      expect(beforeRevoke[i]).toBeGreaterThan(0);
      expect(answers.slice(0, beforeRevoke[i]).every((status) => status === 200)).toBe(true);
      const refused = answers.indexOf(401);
      expect(refused).toBeGreaterThanOrEqual(beforeRevoke[i]);
      expect(answers.slice(refused)).toEqual(answers.slice(refused).map(() => 401));
    }
  });

  it('a role taken away with the CLI (admin to member) holds on both instances, for keys and JWTs', async () => {
    const key = await seedMember(a.db, 'acme', 'carol@acme.test', 'admin');
    const token = await jwt('carol@acme.test');
    await warm(key, '/api/v1/org/acme/members');
    await warm(token, '/api/v1/org/acme/members');

    expect((await cli('member', 'remove', 'acme', 'carol@acme.test')).code).toBe(0);
    await bothAnswer('404 not_found_error', key, '/api/v1/org/acme');
    await bothAnswer('404 not_found_error', token, '/api/v1/org/acme');
    expect((await cli('member', 'add', 'acme', 'carol@acme.test', '--role', 'member')).code).toBe(0);
    await bothAnswer(200, key, '/api/v1/org/acme');
    await bothAnswer('403 forbidden_error', key, '/api/v1/org/acme/members');
    await bothAnswer('403 forbidden_error', token, '/api/v1/org/acme/members');
  });

  it('an expired key is refused at its expiry, though both instances hold it', async () => {
    await seedMember(a.db, 'acme', 'dave@acme.test', 'member');
    const { key, expiresAt } = await new DirectoryAdmin(a.db).createApiKey('dave@acme.test', 'short', 3000);
    await warm(key);
    expect(Date.now()).toBeLessThan(expiresAt!.getTime());

    await sleep(expiresAt!.getTime() - Date.now());
    expect(await answers(key)).toEqual(['401 expired_token_error', '401 expired_token_error']);
  });

  it('a revocation while the instances cannot listen is still refused; they listen again after', async () => {
    const key = await seedMember(a.db, 'acme', 'erin@acme.test', 'member');
    await warm(key);
    // The listening connections die (a failover, a network cut): a NOTIFY sent now reaches no one.
    await a.db.execute(
      sql`select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and application_name = 'credits-api:listen'`,
    );
    expect((await cli('apikey', 'revoke', prefixOf(key))).code).toBe(0);
    await bothAnswer('401 authentication_error', key);

    await bothServing();
    expect(await answers(key)).toEqual(['401 authentication_error', '401 authentication_error']);
    const fresh = await seedMember(a.db, 'acme', 'erin@acme.test', 'member');
    await warm(fresh);
  });

  it("records keys' last use in batches, and at shutdown", async () => {
    const key = await seedMember(a.db, 'acme', 'frank@acme.test', 'member');
    const before = new Date();
    expect(await answers(key)).toEqual([200, 200]);
    await until('the last use recorded', async () => (await lastUsedAt(a.db, key)) !== null, 2000);
    expect((await lastUsedAt(a.db, key))!.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);

    // An instance that would flush only in ten minutes writes what it holds as it stops.
    const c = await startInstance({ ...env, API_KEY_LAST_USED_FLUSH_MS: '600000' });
    const other = await seedMember(a.db, 'acme', 'frank@acme.test', 'member');
    expect((await c.request('GET', '/api/v1/org/acme', { headers: bearer(other) })).status).toBe(200);
    expect(await lastUsedAt(a.db, other)).toBeNull();
    await c.close();
    expect(await lastUsedAt(a.db, other)).not.toBeNull();
  });
});

/**
 * Behind a transaction pooler (PgBouncer in transaction mode) a LISTEN succeeds and hears
 * nothing. Here the LISTEN connection goes to another database of the same server: it looks
 * just as healthy and hears just as little.
 */
describe('credential cache: a LISTEN connection that hears nothing (a transaction pooler)', () => {
  let database: PostgresDatabase;
  let elsewhere: PostgresDatabase;
  const cli = cliRunner(() => ({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: database.url }));
  beforeAll(async () => {
    [database, elsewhere] = await Promise.all([createPostgresDatabase(), createPostgresDatabase()]);
  });
  afterAll(async () => {
    await Promise.all([database?.drop(), elsewhere?.drop()]);
  });

  it('warns at boot and serves nothing from the cache; a direct DATABASE_LISTEN_URL turns it on', async () => {
    const deaf = await startInstance({ DATABASE_URL: database.url, DATABASE_LISTEN_URL: elsewhere.url });
    try {
      await until('warned', () => deaf.logs.some((line) => line.includes('does not reach')), 10_000);
      const warning = deaf.logs.find((line) => line.includes('does not reach'))!;
      expect(warning).toContain('DATABASE_LISTEN_URL');
      expect(JSON.parse(warning).level).toBe('warn');
      expect(deaf.app.get(CredentialCache).serving).toBe(false);
      // Nothing is cached, so a key revoked from elsewhere is refused on the very next request.
      const key = await seedMember(deaf.db, 'acme', 'dave@acme.test', 'member');
      const ask = async () => (await deaf.request('GET', '/api/v1/org/acme', { headers: bearer(key) })).status;
      expect([await ask(), await ask()]).toEqual([200, 200]);
      expect(deaf.app.get(CredentialCache).size).toBe(0);
      expect((await cli('apikey', 'revoke', prefixOf(key))).code).toBe(0);
      expect(await ask()).toBe(401);
    } finally {
      await deaf.close();
    }

    const direct = await startInstance({ DATABASE_URL: database.url, DATABASE_LISTEN_URL: database.url });
    try {
      await until('serving', () => direct.app.get(CredentialCache).serving, 10_000);
      expect(direct.logs.some((line) => line.includes('does not reach'))).toBe(false);
    } finally {
      await direct.close();
    }
  });
});
