import { startTestApp, TestApp, HttpResult } from '../support/test-app';
import { bearer } from '../support/auth';

function expectEnvelope(res: HttpResult, status: number, type: string): void {
  expect(res.status).toBe(status);
  expect(Object.keys(res.body).sort()).toEqual(['code', 'detail', 'errors', 'type']);
  expect(res.body).toMatchObject({ code: status, type });
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** GET /api/v1/org/{org} and /members over real HTTP: shape, roles, no enumeration, paging, validation. */
describe('organization routes', () => {
  let t: TestApp;
  let ownerKey: string;
  let adminKey: string;
  let memberKey: string;
  let outsiderKey: string;
  /** Every acme member's email, in the order the listing promises. */
  let acmeEmails: string[];

  const get = (path: string, key: string) => t.request('GET', path, { headers: bearer(key) });

  beforeAll(async () => {
    t = await startTestApp();
    await t.admin.createOrg('acme', 'Acme Inc');
    ownerKey = await t.member('acme', 'olga@acme.test', 'owner');
    adminKey = await t.member('acme', 'adam@acme.test', 'admin');
    memberKey = await t.member('acme', 'mia@acme.test', 'member');
    for (const name of ['zoe', 'bob', 'carla', 'dan', 'eve']) await t.member('acme', `${name}@acme.test`, 'member');
    outsiderKey = await t.member('globex', 'gus@globex.test', 'owner');
    // Members of another org never show up in acme's listing, even one who is in both.
    await t.member('globex', 'mia@acme.test', 'admin');
    acmeEmails = ['adam', 'bob', 'carla', 'dan', 'eve', 'mia', 'olga', 'zoe'].map((name) => `${name}@acme.test`);
  });
  afterAll(() => t?.close());

  describe('GET /api/v1/org/{org}', () => {
    it('shows a member the org with the caller’s own role', async () => {
      const res = await get('/api/v1/org/acme', memberKey);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        slug: 'acme',
        name: 'Acme Inc',
        role: 'member',
        created_at: expect.stringMatching(ISO_DATE_TIME),
      });
      const asAdmin = await get('/api/v1/org/acme', adminKey);
      expect(asAdmin.body).toEqual({ ...res.body, role: 'admin' });
      expect((await get('/api/v1/org/acme', ownerKey)).body.role).toBe('owner');
      // The same user is an admin of globex: the role is per org.
      expect((await get('/api/v1/org/globex', memberKey)).body).toMatchObject({ slug: 'globex', role: 'admin' });
    });

    it('answers an unknown org and an org the caller is not in with the same 404', async () => {
      const unknown = await get('/api/v1/org/no-such-org', outsiderKey);
      const notMine = await get('/api/v1/org/acme', outsiderKey);
      expectEnvelope(unknown, 404, 'not_found_error');
      expect(notMine.body).toEqual(unknown.body);
    });

    it('requires credentials', async () => {
      expectEnvelope(await t.request('GET', '/api/v1/org/acme'), 401, 'authentication_error');
    });
  });

  describe('GET /api/v1/org/{org}/members', () => {
    it('is forbidden to a plain member', async () => {
      const res = await get('/api/v1/org/acme/members', memberKey);
      expectEnvelope(res, 403, 'forbidden_error');
      expect(res.body.detail).toContain('admin');
    });

    it('answers an unknown org and an org the caller is not in with the same 404', async () => {
      const unknown = await get('/api/v1/org/no-such-org/members', outsiderKey);
      const notMine = await get('/api/v1/org/acme/members', outsiderKey);
      expectEnvelope(unknown, 404, 'not_found_error');
      expect(notMine.body).toEqual(unknown.body);
    });

    it('lists every member with role and join date to an admin, by email', async () => {
      const res = await get('/api/v1/org/acme/members', adminKey);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ has_more: false, next_cursor: null });
      expect(res.body.data.map((m: any) => m.email)).toEqual(acmeEmails);
      const roles = Object.fromEntries(res.body.data.map((m: any) => [m.email, m.role]));
      expect(roles).toMatchObject({ 'olga@acme.test': 'owner', 'adam@acme.test': 'admin', 'mia@acme.test': 'member' });
      for (const member of res.body.data) {
        expect(member).toEqual({
          user_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
          email: expect.any(String),
          role: expect.any(String),
          created_at: expect.stringMatching(ISO_DATE_TIME),
        });
      }
      expect((await get('/api/v1/org/acme/members', ownerKey)).body.data).toEqual(res.body.data);
    });

    it('pages with an opaque cursor: every member exactly once, in order, for any page size', async () => {
      for (const limit of [1, 3, 7, 8, 9]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const query: string = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const res = await get(`/api/v1/org/acme/members?${query}`, adminKey);
          expect(res.status).toBe(200);
          expect(res.body.data.length).toBeLessThanOrEqual(limit);
          seen.push(...res.body.data.map((m: any) => m.email));
          cursor = res.body.next_cursor;
          expect(res.body.has_more).toBe(cursor !== null);
          if (cursor) expect(cursor).not.toContain('@');
          pages++;
        } while (cursor);
        expect({ limit, seen }).toEqual({ limit, seen: acmeEmails });
        expect(pages).toBe(Math.ceil(acmeEmails.length / limit));
      }
    });

    it('defaults to 50 a page', async () => {
      const res = await get('/api/v1/org/acme/members?limit=50', adminKey);
      expect((await get('/api/v1/org/acme/members', adminKey)).body).toEqual(res.body);
    });

    it.each([
      ['limit=0', 'limit=0', ['query', 'limit']],
      ['limit=101', 'limit=101', ['query', 'limit']],
      ['limit=abc', 'limit=abc', ['query', 'limit']],
      ['limit=1.5', 'limit=1.5', ['query', 'limit']],
      ['a cursor that is not base64url JSON', 'cursor=not-a-cursor', ['query', 'cursor']],
      [
        'a cursor without an email',
        `cursor=${Buffer.from(JSON.stringify({ e: 42 })).toString('base64url')}`,
        ['query', 'cursor'],
      ],
      ['a cursor that is not an object', `cursor=${Buffer.from('[1]').toString('base64url')}`, ['query', 'cursor']],
      ['a cursor over 512 characters', `cursor=${'a'.repeat(513)}`, ['query', 'cursor']],
    ])('422 for %s', async (_name, query, loc) => {
      const res = await get(`/api/v1/org/acme/members?${query}`, adminKey);
      expectEnvelope(res, 422, 'validation_error');
      expect(res.body.errors).toEqual([expect.objectContaining({ loc })]);
    });
  });
});
