import { Controller, HttpCode, Module, Post } from '@nestjs/common';
import { eq } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { CurrentOrg, CurrentPrincipal, OrgContext, OrgRole, Principal } from '@credits/auth';
import { IdempotencyKeyRepository, IdempotencyService, IdempotentResult } from '@credits/billing';
import { Idempotent } from '@credits/billing/idempotency/idempotency-key.decorator';
import { apiKeys } from '@credits/database';
import { bearer, TEST_JWT_SECRET } from '../support/auth';
import { envelope } from '../support/envelope';
import { startStack, Stack } from '../support/stack';
import { until } from '../support/until';

/**
 * Routes that need `credits:spend`, as the metering routes will: one any member may call,
 * one for admins only, so "role AND scope" (people) and "scope only" (service keys) both show.
 * The first keeps its answers in the per-caller Idempotency-Key store, as checkout does.
 */
@Controller('api/v1/org/:org/scope-probe')
class SpendProbeController {
  private calls = 0;
  constructor(private readonly idempotency: IdempotencyService) {}

  @Post('spend')
  @HttpCode(200)
  @OrgRole('member', 'credits:spend', { budget: 'checkout' })
  spend(
    @CurrentOrg() org: OrgContext,
    @CurrentPrincipal() principal: Principal,
    @Idempotent() key: string | undefined,
  ): Promise<IdempotentResult<object>> {
    const work = async () => ({
      org: org.slug,
      role: org.role,
      kind: principal.kind,
      caller: principal.callerId,
      call: ++this.calls,
    });
    if (key === undefined) return work().then((body) => ({ body, replayed: false }));
    return this.idempotency.run({ userId: principal.callerId, orgId: org.id, key }, 'same body', 5000, work);
  }

  @Post('admin-spend')
  @HttpCode(200)
  @OrgRole('admin', 'credits:spend', { budget: 'checkout' })
  adminSpend(@CurrentOrg() org: OrgContext) {
    return { org: org.slug };
  }
}

@Module({ controllers: [SpendProbeController], providers: [IdempotencyService, IdempotencyKeyRepository] })
class SpendProbeModule {}

const jwt = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));

const CHECKOUT_BODY = {
  success_url: 'http://localhost:3000/billing/success?session_id={CHECKOUT_SESSION_ID}',
  cancel_url: 'http://localhost:3000/billing/cancel',
};

/** Service keys and scopes over real HTTP: who may do what on which org, and what the others learn. */
describe('service keys and scopes', () => {
  let s: Stack;
  const get = (path: string, key: string) => s.request('GET', path, { headers: bearer(key) });
  const post = (path: string, key: string, body: unknown = {}) =>
    s.request('POST', path, { headers: bearer(key), body });
  const forbidden = (scope: string) => ({
    ...envelope(403, 'forbidden_error'),
    detail: expect.stringContaining(scope),
  });

  beforeAll(async () => {
    s = await startStack({ imports: [SpendProbeModule] });
    await s.member('acme', 'owner@acme.test', 'owner');
    await s.member('globex', 'owner@globex.test', 'owner');
    await s.admin.createOrg('initech');
  });
  afterAll(() => s?.close());

  describe('a service key on every org', () => {
    let key: string;
    beforeAll(async () => {
      key = await s.serviceKey('sandbox-runner', ['org:read', 'credits:read', 'credits:spend']);
    });

    it('reads any org, its balance and ledger; not the admin-only member list', async () => {
      for (const slug of ['acme', 'globex', 'initech']) {
        const org = await get(`/api/v1/org/${slug}`, key);
        expect(org.status).toBe(200);
        expect(org.body).toMatchObject({ slug, role: null });
        expect((await get(`/api/v1/org/${slug}/credits`, key)).status).toBe(200);
        expect((await get(`/api/v1/org/${slug}/credits/transactions`, key)).status).toBe(200);
      }
      // An admin-only route: a service key ranks as a member, so people's emails stay private.
      const members = await get('/api/v1/org/acme/members', key);
      expect(members.status).toBe(403);
      expect(members.body).toMatchObject({ type: 'forbidden_error', detail: expect.stringMatching(/admin role/) });
    });

    it('calls a credits:spend route as itself: a service caller, its key id as caller id', async () => {
      const res = await post('/api/v1/org/globex/scope-probe/spend', key);
      expect(res.status).toBe(200);
      const [row] = await s.db
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(eq(apiKeys.prefix, key.slice(0, 11)));
      expect(res.body).toEqual({
        org: 'globex',
        role: null,
        kind: 'service',
        caller: row.id,
        call: expect.any(Number),
      });
      // It ranks as a member: an admin-only route is refused whatever scope it carries.
      const adminOnly = await post('/api/v1/org/globex/scope-probe/admin-spend', key);
      expect(adminOnly.body).toEqual({
        ...envelope(403, 'forbidden_error'),
        detail: expect.stringMatching(/admin role/),
      });
    });

    it('is served an org created after it asked for it, at once: the cached "no such org" is dropped', async () => {
      const credits = async () => (await get('/api/v1/org/hooli/credits', key)).status;
      expect(await credits()).toBe(404);
      expect(await credits()).toBe(404); // answered from the credential cache now
      await s.admin.createOrg('hooli');
      // Announced in the org's own transaction: its notification arrives just after the commit.
      const deadline = Date.now() + 1000;
      let status = await credits();
      while (status !== 200 && Date.now() < deadline) status = await credits();
      expect(status).toBe(200);
    });

    it("keeps its Idempotency-Key answers apart from other callers' (the store is per caller)", async () => {
      const send = (k: string) =>
        s.request('POST', '/api/v1/org/acme/scope-probe/spend', {
          headers: bearer(k, { 'idempotency-key': 'meter-1' }),
          body: {},
        });
      const first = await send(key);
      const again = await send(key);
      expect([first.status, again.status]).toEqual([200, 200]);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(first.body);
      // Another service key, and a person, sending the same key are other callers.
      const other = await send(await s.serviceKey('other-runner', ['credits:spend']));
      expect(other.headers.get('idempotent-replayed')).toBeNull();
      expect(other.body.call).not.toBe(first.body.call);
      const person = await send(await s.member('acme', 'meter@acme.test', 'member', ['credits:spend']));
      expect(person.headers.get('idempotent-replayed')).toBeNull();
      expect(person.body).toMatchObject({ kind: 'user' });
    });

    it('an unknown org is still 404', async () => {
      expect((await get('/api/v1/org/no-such-org/credits', key)).body).toEqual(envelope(404, 'not_found_error'));
    });

    it('the request log names the service and the key, not a user', async () => {
      await get('/api/v1/org/acme/credits', key);
      const line = s.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'request completed' && l.route === '/api/v1/org/:org/credits')
        .at(-1);
      expect(line).toMatchObject({ service: 'sandbox-runner', api_key_id: expect.any(String), org: 'acme' });
      expect(line).not.toHaveProperty('user_id');
    });
  });

  describe('a service key limited to some orgs', () => {
    let key: string;
    beforeAll(async () => {
      key = await s.serviceKey('model-gateway', ['credits:read'], ['acme', 'initech']);
    });

    it('serves its orgs', async () => {
      expect((await get('/api/v1/org/acme/credits', key)).status).toBe(200);
      expect((await get('/api/v1/org/initech/credits', key)).status).toBe(200);
    });

    it('answers another org exactly like an unknown one, before any scope check', async () => {
      const unknown = await get('/api/v1/org/no-such-org/credits', key);
      expect(unknown.status).toBe(404);
      for (const path of ['/api/v1/org/globex/credits', '/api/v1/org/globex', '/api/v1/org/globex/members']) {
        const other = await get(path, key);
        expect([path, other.status, other.body]).toEqual([path, 404, unknown.body]);
      }
      // On its own org, the scope it lacks is the 403.
      expect((await get('/api/v1/org/acme', key)).body).toEqual(forbidden('org:read'));
    });
  });

  describe('a missing scope is 403 forbidden_error naming it', () => {
    it('a service key without credits:read, org:read or credits:spend', async () => {
      const key = await s.serviceKey('spender', ['credits:spend']);
      expect((await get('/api/v1/org/acme/credits', key)).body).toEqual(forbidden('credits:read'));
      expect((await get('/api/v1/org/acme/credits/transactions', key)).body).toEqual(forbidden('credits:read'));
      expect((await get('/api/v1/org/acme/credits/checkout/cs_test_x', key)).body).toEqual(forbidden('credits:read'));
      expect((await get('/api/v1/org/acme', key)).body).toEqual(forbidden('org:read'));
      const reader = await s.serviceKey('reader', ['credits:read']);
      expect((await post('/api/v1/org/acme/scope-probe/spend', reader)).body).toEqual(forbidden('credits:spend'));
    });

    it('a service key cannot buy: no credits:purchase, and one forced into the database is still refused', async () => {
      const key = await s.serviceKey('buyer', ['credits:read']);
      const res = await post('/api/v1/org/acme/credits/checkout', key, CHECKOUT_BODY);
      expect(res.body).toEqual({ ...envelope(403, 'forbidden_error'), detail: expect.stringMatching(/service key/) });
      await s.db
        .update(apiKeys)
        .set({ scopes: ['credits:purchase'] })
        .where(eq(apiKeys.prefix, key.slice(0, 11)));
      const forced = await post('/api/v1/org/acme/credits/checkout', key, CHECKOUT_BODY);
      expect(forced.body).toEqual({
        ...envelope(403, 'forbidden_error'),
        detail: expect.stringMatching(/service key/),
      });
      expect(await s.stripeRequests('/v1/checkout/sessions')).toEqual([]);
    });
  });

  describe("a user's key", () => {
    it('holds its role’s scopes by default; credits:spend is never implied, not even for the owner', async () => {
      const member = await s.member('acme', 'mia@acme.test', 'member');
      expect((await get('/api/v1/org/acme', member)).status).toBe(200);
      expect((await get('/api/v1/org/acme/credits', member)).status).toBe(200);
      expect((await post('/api/v1/org/acme/scope-probe/spend', member)).body).toEqual(forbidden('credits:spend'));
      const owner = await s.member('acme', 'owner@acme.test', 'owner');
      expect((await post('/api/v1/org/acme/scope-probe/spend', owner)).body).toEqual(forbidden('credits:spend'));
      // A JWT holds the role's scopes, no more.
      const token = await jwt('owner@acme.test');
      expect((await get('/api/v1/org/acme/credits', token)).status).toBe(200);
      expect((await post('/api/v1/org/acme/scope-probe/spend', token)).body).toEqual(forbidden('credits:spend'));
    });

    it('--scope narrows it: what is left out is 403, what the role lacks stays out', async () => {
      const reader = await s.member('acme', 'ada@acme.test', 'admin', ['credits:read']);
      expect((await get('/api/v1/org/acme/credits', reader)).status).toBe(200);
      expect((await get('/api/v1/org/acme', reader)).body).toEqual(forbidden('org:read'));
      expect((await post('/api/v1/org/acme/credits/checkout', reader, CHECKOUT_BODY)).body).toEqual(
        forbidden('credits:purchase'),
      );
      // A member's key that lists credits:purchase gains nothing: the role check comes first...
      const wishful = await s.member('acme', 'max@acme.test', 'member', ['credits:read', 'credits:purchase']);
      const purchase = await post('/api/v1/org/acme/credits/checkout', wishful, CHECKOUT_BODY);
      expect(purchase.body).toEqual({
        ...envelope(403, 'forbidden_error'),
        detail: expect.stringMatching(/admin role/),
      });
      expect((await get('/api/v1/org/acme/credits', wishful)).status).toBe(200);
    });

    it('is evaluated per org: the same key holds each org’s role, narrowed the same way', async () => {
      await s.member('globex', 'ada@acme.test', 'member');
      const key = await s.member('acme', 'ada@acme.test', 'admin', ['org:read', 'credits:purchase']);
      // Admin of acme: org:read and credits:purchase; member of globex: org:read only.
      expect((await get('/api/v1/org/acme', key)).body.role).toBe('admin');
      expect((await get('/api/v1/org/globex', key)).body.role).toBe('member');
      const acme = await post('/api/v1/org/acme/credits/checkout', key, CHECKOUT_BODY);
      expect(acme.status).toBe(200);
      const globex = await post('/api/v1/org/globex/credits/checkout', key, CHECKOUT_BODY);
      expect(globex.body).toEqual({ ...envelope(403, 'forbidden_error'), detail: expect.stringMatching(/admin role/) });
    });

    it('gets credits:spend only from an explicit --scope, and the route’s role still applies', async () => {
      const meter = await s.member('acme', 'mo@acme.test', 'member', ['credits:spend']);
      const res = await post('/api/v1/org/acme/scope-probe/spend', meter);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ kind: 'user', role: 'member' });
      expect((await post('/api/v1/org/acme/scope-probe/admin-spend', meter)).body).toEqual({
        ...envelope(403, 'forbidden_error'),
        detail: expect.stringMatching(/admin role/),
      });
      // Narrowed to credits:spend, it reads nothing else.
      expect((await get('/api/v1/org/acme/credits', meter)).body).toEqual(forbidden('credits:read'));
      // Not a member: 404 first, whatever the key's scopes.
      expect((await post('/api/v1/org/initech/scope-probe/spend', meter)).body).toEqual(
        envelope(404, 'not_found_error'),
      );
    });
  });

  it('a revoked or expired service key is 401', async () => {
    const key = await s.serviceKey('retired', ['credits:read']);
    expect((await get('/api/v1/org/acme/credits', key)).status).toBe(200);
    await s.admin.revokeApiKey(key.slice(0, 11));
    // The instance drops its cached answer when the revocation's NOTIFY arrives (after the
    // commit, on its listening connection: milliseconds, not before `revokeApiKey` returns).
    const revoked = await until('the revocation to reach the instance', async () => {
      const res = await get('/api/v1/org/acme/credits', key);
      return res.status === 200 ? undefined : res;
    });
    expect(revoked.body).toEqual({ ...envelope(401, 'authentication_error'), detail: 'API key has been revoked' });

    const expiring = await s.serviceKey('expiring', ['credits:read']);
    await s.db
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.prefix, expiring.slice(0, 11)));
    expect((await get('/api/v1/org/acme/credits', expiring)).status).toBe(401);
  });
});
