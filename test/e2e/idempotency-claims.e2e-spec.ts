import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { IdempotencyKeyRepository, IdempotencyService, requestHash } from '@credits/billing';
import { ConflictError } from '@credits/errors';
import { idempotencyKeys, organizations, users } from '@credits/database';
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
