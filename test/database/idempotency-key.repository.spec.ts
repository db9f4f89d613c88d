/**
 * IdempotencyKeyRepository against a real database: in-memory PGlite, or PostgreSQL when
 * TEST_DATABASE_URL is set. The same caller and key in two orgs are two keys.
 */
import { randomUUID } from 'node:crypto';
import { IdempotencyKeyRef, IdempotencyKeyRepository } from '@credits/billing';
import { type Db } from '@credits/database';
import { openTestDatabase } from '../support/database';

describe('IdempotencyKeyRepository', () => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  let db: Db;
  let keys: IdempotencyKeyRepository;

  beforeAll(async () => {
    database = await openTestDatabase();
    db = database.db;
    keys = new IdempotencyKeyRepository(db);
  });
  afterAll(() => database?.close());

  const HOUR = 60 * 60 * 1000;
  const ref = (): IdempotencyKeyRef => ({ userId: randomUUID(), key: `key-${randomUUID()}` });
  const claimUntil = (lockedUntil: Date, requestHash = 'hash-1') => ({
    requestHash,
    lockedUntil,
    expiresAt: new Date(Date.now() + 24 * HOUR),
  });
  const soon = () => new Date(Date.now() + 60_000);

  it('claims a key once; the claim is in progress until completed with its answer', async () => {
    const [org, r, until] = [randomUUID(), ref(), soon()];
    expect(await keys.insertClaim(org, r, claimUntil(until))).toBe(true);
    expect(await keys.insertClaim(org, r, claimUntil(soon(), 'hash-2'))).toBe(false);
    expect(await keys.find(org, r)).toMatchObject({ state: 'in_progress', requestHash: 'hash-1', lockedUntil: until });

    await keys.complete(org, r, until, { status: 200, body: { session_id: 'cs_1' } });
    expect(await keys.find(org, r)).toMatchObject({
      state: 'completed',
      responseStatus: 200,
      responseBody: { session_id: 'cs_1' },
    });
  });

  it('completes or releases a claim only while it is the one in progress', async () => {
    const [org, r, first] = [randomUUID(), ref(), new Date(Date.now() - 1000)];
    await keys.insertClaim(org, r, claimUntil(first));
    const second = soon();
    expect(await keys.takeOver(org, r, first, second)).toBe(true);
    // The first claim's owner, late: it can neither take over again, complete nor release.
    expect(await keys.takeOver(org, r, first, soon())).toBe(false);
    await keys.complete(org, r, first, { status: 200, body: { session_id: 'cs_late' } });
    await keys.release(org, r, first);
    expect(await keys.find(org, r)).toMatchObject({ state: 'in_progress', lockedUntil: second, responseBody: null });

    await keys.release(org, r, second);
    expect(await keys.find(org, r)).toBeUndefined();
  });

  it('stores the answer, JSON as it was, on the claim it completes and no other', async () => {
    const org = randomUUID();
    const [r, until] = [ref(), soon()];
    await keys.insertClaim(org, r, claimUntil(until));
    const body = { ok: true, nested: { list: [1, 'two'] }, text: 'quote " and \\ backslash' };
    await keys.complete(org, r, new Date(until.getTime() + 1), { status: 200, body });
    expect(await keys.find(org, r)).toMatchObject({ state: 'in_progress', responseBody: null });
    await keys.complete(org, r, until, { status: 200, body });
    expect(await keys.find(org, r)).toMatchObject({ state: 'completed', responseStatus: 200, responseBody: body });
  });

  it('deletes a key only once it has expired', async () => {
    const [org, r] = [randomUUID(), ref()];
    await keys.insertClaim(org, r, { requestHash: 'h', lockedUntil: soon(), expiresAt: new Date(Date.now() + HOUR) });
    await keys.deleteExpired(org, r, new Date());
    expect(await keys.find(org, r)).toBeDefined();
    await keys.deleteExpired(org, r, new Date(Date.now() + 2 * HOUR));
    expect(await keys.find(org, r)).toBeUndefined();
  });

  describe('across orgs: the same caller and key', () => {
    it("are separate keys: org B neither sees nor blocks org A's claim", async () => {
      const [orgA, orgB, r, until] = [randomUUID(), randomUUID(), ref(), soon()];
      expect(await keys.insertClaim(orgA, r, claimUntil(until, 'hash-a'))).toBe(true);
      expect(await keys.find(orgB, r)).toBeUndefined();
      expect(await keys.insertClaim(orgB, r, claimUntil(until, 'hash-b'))).toBe(true);
      expect(await keys.find(orgA, r)).toMatchObject({ orgId: orgA, requestHash: 'hash-a' });
      expect(await keys.find(orgB, r)).toMatchObject({ orgId: orgB, requestHash: 'hash-b' });
    });

    it("org B's complete, take-over, release and expiry never change org A's row, even with A's lock token", async () => {
      const [orgA, orgB, r, until] = [randomUUID(), randomUUID(), ref(), new Date(Date.now() - 1000)];
      await keys.insertClaim(orgA, r, claimUntil(until));
      const before = await keys.find(orgA, r);

      await keys.complete(orgB, r, until, { status: 200, body: { session_id: 'cs_b' } });
      expect(await keys.takeOver(orgB, r, until, soon())).toBe(false);
      await keys.release(orgB, r, until);
      await keys.deleteExpired(orgB, r, new Date(Date.now() + 48 * HOUR));

      expect(await keys.find(orgA, r)).toEqual(before);
      expect(await keys.find(orgB, r)).toBeUndefined();
    });
  });
});
