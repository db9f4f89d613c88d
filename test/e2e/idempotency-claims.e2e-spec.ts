import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { IdempotencyKeyRepository, IdempotencyService, requestHash } from '@credits/billing';
import { CheckoutSessionRepository } from '@credits/billing/checkout/checkout-session.repository';
import { ConflictError } from '@credits/errors';
import { checkoutSessions, idempotencyKeys, organizations, users } from '@credits/database';
import { startTestApp, TestApp } from '../support/test-app';
import { until } from '../support/until';

/**
 * The claim on an Idempotency-Key, below HTTP: a request that outlives its lock is taken
 * over, and from then on the claim is the new owner's alone.
 */
describe('IdempotencyService claims', () => {
  let t: TestApp;
  let service: IdempotencyService;
  let scope: () => { userId: string; orgId: string; key: string };

  beforeAll(async () => {
    t = await startTestApp();
    await t.member('acme', 'admin@acme.test', 'admin');
    const [org] = await t.db.select().from(organizations).where(eq(organizations.slug, 'acme'));
    const [user] = await t.db.select().from(users).where(eq(users.email, 'admin@acme.test'));
    service = new IdempotencyService(new IdempotencyKeyRepository(t.db));
    scope = () => ({ userId: user.id, orgId: org.id, key: `key-${randomUUID()}` });
  });
  afterAll(() => t?.close());

  const hash = requestHash({ quantity: 1 });
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const rowOf = async (key: string) =>
    (await t.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key)))[0];

  it('a claim past its lock is taken over; the late first owner neither releases nor completes it', async () => {
    const s = scope();
    let releaseFirst!: () => void;
    const first = service.run(s, hash, 100, async () => {
      await new Promise<void>((resolve) => (releaseFirst = resolve));
      throw new Error('the first attempt fails late');
    });
    await sleep(200);
    // The first request looks dead: the second takes its claim over and is still working.
    let finishSecond!: () => void;
    const second = service.run(s, hash, 60_000, async () => {
      await new Promise<void>((resolve) => (finishSecond = resolve));
      return { session_id: 'cs_second' };
    });
    await until('the second request took the claim over', () => finishSecond !== undefined);

    releaseFirst();
    await expect(first).rejects.toThrow('the first attempt fails late');
    // Still the second request's claim: a third one is told it is in progress, not run.
    expect(await rowOf(s.key)).toMatchObject({ state: 'in_progress' });
    await expect(service.run(s, hash, 60_000, async () => ({ session_id: 'cs_third' }))).rejects.toBeInstanceOf(
      ConflictError,
    );

    finishSecond();
    await expect(second).resolves.toEqual({ body: { session_id: 'cs_second' }, replayed: false });
    expect(await rowOf(s.key)).toMatchObject({ state: 'completed', responseBody: { session_id: 'cs_second' } });
  });

  it("records a checkout's session and its key's answer in one statement, the answer only under the live claim", async () => {
    const s = scope();
    // The key is another member's than the sessions' user: the statement's placeholders keep
    // the key's caller apart from the session's.
    await t.member('acme', 'second@acme.test', 'admin');
    const [second] = await t.db.select().from(users).where(eq(users.email, 'second@acme.test'));
    const ref = { userId: second.id, key: s.key };
    const keys = new IdempotencyKeyRepository(t.db);
    const lockedUntil = new Date(Date.now() + 60_000);
    const expiresAt = new Date(Date.now() + 3_600_000);
    expect(await keys.insertClaim(s.orgId, ref, { requestHash: hash, lockedUntil, expiresAt })).toBe(true);
    // Every statement reaches the database through the driver's `query`, prepared or not;
    // those that touch a session or a key while `write` runs are counted (the app's jobs share
    // the driver).
    const client = (t.db as unknown as { $client: { query: (...args: unknown[]) => unknown } }).$client;
    const sent = jest.spyOn(client, 'query');
    const statementsOf = async (write: () => Promise<void>) => {
      const before = sent.mock.calls.length;
      await write();
      return sent.mock.calls
        .slice(before)
        .map(([query]) => (typeof query === 'string' ? query : (query as { text: string }).text))
        .filter((text) => text.includes('"checkout_sessions"') || text.includes('"idempotency_keys"'));
    };
    const sessions = new CheckoutSessionRepository(t.db);
    const session = (id: string, expiry: Date | null = null) => ({
      id,
      userId: s.userId,
      bundles: 1,
      credits: 100,
      amountTotal: 500,
      currency: 'usd',
      status: 'open' as const,
      savePaymentMethod: false,
      expiresAt: expiry,
    });
    const recordedRow = async (id: string) =>
      (await t.db.select().from(checkoutSessions).where(eq(checkoutSessions.id, id)))[0];
    const recorded = async (id: string) => ((await recordedRow(id)) ? 1 : 0);

    try {
      // A request whose claim was taken over records its session (Stripe made it) but not its answer.
      const lost = { ...ref, lockedUntil: new Date(lockedUntil.getTime() - 1) };
      const lostStatements = await statementsOf(() =>
        sessions.insertAnswering(s.orgId, session(`cs_lost_${s.key}`), lost, { session_id: 'cs_lost' }),
      );
      expect(await recorded(`cs_lost_${s.key}`)).toBe(1);
      expect(await rowOf(s.key)).toMatchObject({ state: 'in_progress', responseBody: null });

      const sessionExpiry = new Date(Date.now() + 1_800_000);
      const liveStatements = await statementsOf(() =>
        sessions.insertAnswering(
          s.orgId,
          session(`cs_live_${s.key}`, sessionExpiry),
          { ...ref, lockedUntil },
          { session_id: 'cs_live' },
        ),
      );
      expect(await recordedRow(`cs_live_${s.key}`)).toMatchObject({
        orgId: s.orgId,
        userId: s.userId,
        status: 'open',
        expiresAt: sessionExpiry,
      });
      expect(await rowOf(s.key)).toMatchObject({
        userId: second.id,
        state: 'completed',
        responseStatus: 200,
        responseBody: { session_id: 'cs_live' },
      });
      // One statement each, the session and the answer in it: they commit together or not at all.
      for (const statements of [lostStatements, liveStatements]) {
        expect(statements).toHaveLength(1);
        expect(statements[0]).toMatch(/insert into "checkout_sessions"[\s\S]*update "idempotency_keys"/);
      }
    } finally {
      sent.mockRestore();
    }

    // A session that cannot be recorded (its user unknown) leaves the key unanswered, still ours.
    const other = scope();
    const otherRef = { userId: other.userId, key: other.key };
    await keys.insertClaim(other.orgId, otherRef, { requestHash: hash, lockedUntil, expiresAt });
    await expect(
      sessions.insertAnswering(
        other.orgId,
        { ...session(`cs_orphan_${other.key}`), userId: randomUUID() },
        { ...otherRef, lockedUntil },
        { session_id: 'cs_orphan' },
      ),
    ).rejects.toThrow();
    expect(await recorded(`cs_orphan_${other.key}`)).toBe(0);
    expect(await rowOf(other.key)).toMatchObject({ state: 'in_progress', responseBody: null });

    // Without a key, a session Stripe gave no expiry is recorded with none.
    await sessions.insert(s.orgId, session(`cs_no_expiry_${s.key}`));
    expect(await recordedRow(`cs_no_expiry_${s.key}`)).toMatchObject({ expiresAt: null });
  });

  it('a late first owner that succeeds does not overwrite the answer of the request that took over', async () => {
    const s = scope();
    let finishFirst!: () => void;
    const first = service.run(s, hash, 100, async () => {
      await new Promise<void>((resolve) => (finishFirst = resolve));
      return { session_id: 'cs_first' };
    });
    await sleep(200);
    await expect(service.run(s, hash, 60_000, async () => ({ session_id: 'cs_second' }))).resolves.toMatchObject({
      replayed: false,
    });

    finishFirst();
    await first;
    expect(await rowOf(s.key)).toMatchObject({ state: 'completed', responseBody: { session_id: 'cs_second' } });
    await expect(service.run(s, hash, 60_000, async () => ({ session_id: 'cs_fourth' }))).resolves.toEqual({
      body: { session_id: 'cs_second' },
      replayed: true,
    });
  });
});
