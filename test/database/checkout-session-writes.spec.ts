/**
 * The statements each webhook delivery runs on our record of its Checkout session, written as
 * `sql` rather than with Drizzle's query builder: they must read and write the row exactly as
 * the builder does, on both drivers (in-memory PGlite, or PostgreSQL when TEST_DATABASE_URL is
 * set): bigints as numbers, timestamps as Dates, nulls as null.
 */
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { CheckoutSessionRepository } from '@credits/billing/checkout/checkout-session.repository';
import { StripeEventRepository } from '@credits/billing/fulfilment/stripe-event.repository';
import { NotificationRepository } from '@credits/billing/notifications/notification.repository';
import {
  checkoutSessions,
  type Db,
  NOTIFICATION_EVENT_TYPES,
  notificationEndpoints,
  organizations,
  stripeEvents,
  users,
} from '@credits/database';
import { openTestDatabase } from '../support/database';

/** Registered in the PostgreSQL pass only (a lock is seen from a second connection); nothing is skipped. */
const onPostgres = Boolean(process.env.TEST_DATABASE_URL?.trim());
const postgresOnly = onPostgres ? it : () => undefined;

describe('the webhook’s statements on a checkout session', () => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  let db: Db;
  let sessions: CheckoutSessionRepository;
  let events: StripeEventRepository;

  beforeAll(async () => {
    database = await openTestDatabase();
    db = database.db;
    sessions = new CheckoutSessionRepository(db);
    events = new StripeEventRepository(db);
  });
  afterAll(() => database?.close());

  /** A session with every kind of column filled: bigints, timestamps, a boolean, text. */
  const newSession = async () => {
    const [org] = await db
      .insert(organizations)
      .values({ slug: `org-${randomUUID().slice(0, 8)}`, name: 'Org' })
      .returning();
    const [user] = await db
      .insert(users)
      .values({ email: `${randomUUID()}@example.test` })
      .returning();
    const id = `cs_test_${randomUUID().replace(/-/g, '')}`;
    await db.insert(checkoutSessions).values({
      id,
      orgId: org.id,
      userId: user.id,
      bundles: 3,
      credits: 9_007_199_254_740, // past 32 bits: a bigint column
      amountTotal: 2100,
      currency: 'usd',
      status: 'open',
      savePaymentMethod: true,
      refundSettledCredits: 12,
      expiresAt: new Date('2031-01-02T03:04:05.678Z'),
    });
    return { orgId: org.id, id };
  };
  /** The row as the query builder reads it. */
  const builderRow = async (id: string) =>
    (await db.select().from(checkoutSessions).where(eq(checkoutSessions.id, id)))[0];

  it('the event’s record with its session lock answers the row as the query builder reads it, once', async () => {
    const { id } = await newSession();
    const event = { id: `evt_${randomUUID()}`, type: 'checkout.session.completed' };
    const first = await db.transaction((tx) => events.in(tx).recordProcessedLocking(event, id));
    expect(first).toEqual({ fresh: true, session: await builderRow(id), subscribed: new Set() });
    expect(first.session?.credits).toBe(9_007_199_254_740);
    expect(first.session?.expiresAt).toEqual(new Date('2031-01-02T03:04:05.678Z'));
    expect(first.session?.fulfilledAt).toBeNull();

    const again = await db.transaction((tx) => events.in(tx).recordProcessedLocking(event, id));
    expect(again).toEqual({ fresh: false, session: await builderRow(id), subscribed: new Set() });
    expect(await db.select().from(stripeEvents).where(eq(stripeEvents.id, event.id))).toHaveLength(1);
  });

  it('the same statement reads which event types the active endpoints take, each once', async () => {
    const record = async () => {
      const { id } = await newSession();
      const event = { id: `evt_${randomUUID()}`, type: 'checkout.session.completed' };
      const { subscribed } = await db.transaction((tx) => events.in(tx).recordProcessedLocking(event, id));
      return [...subscribed!].sort();
    };
    const endpoints = new NotificationRepository(db);
    const add = async (types: (typeof NOTIFICATION_EVENT_TYPES)[number][] | null) =>
      (await endpoints.addEndpoint(`https://hooks.example.test/${randomUUID()}`, types, 'sealed'))!.id;
    try {
      expect(await record()).toEqual([]);
      await add(['credits.refunded', 'credits.depleted']);
      await add(['credits.depleted']);
      expect(await record()).toEqual(['credits.depleted', 'credits.refunded']);
      const every = await add(null);
      expect(await record()).toEqual([...NOTIFICATION_EVENT_TYPES].sort());
      await endpoints.removeEndpoint(every);
      expect(await record()).toEqual(['credits.depleted', 'credits.refunded']);
    } finally {
      await db.delete(notificationEndpoints);
    }
  });

  it('a session we hold no record of: no session (its caller rolls the event back)', async () => {
    const event = { id: `evt_${randomUUID()}`, type: 'checkout.session.completed' };
    const missing = await db.transaction((tx) => events.in(tx).recordProcessedLocking(event, 'cs_test_unknown'));
    expect(missing).toEqual({ fresh: false, session: undefined });
  });

  it('the record of an event that grants marks its session granted in the same statement, once', async () => {
    const { id } = await newSession();
    const before = await builderRow(id);
    const event = { id: `evt_${randomUUID()}`, type: 'checkout.session.completed' };
    const first = await db.transaction((tx) => events.in(tx).recordProcessedGranting(event, id, 'pi_first'));
    const marked = await builderRow(id);
    expect(first).toEqual({ fresh: true, session: marked, subscribed: new Set() });
    expect(marked).toEqual({
      ...before,
      status: 'complete',
      paymentStatus: 'paid',
      fulfilledAt: expect.any(Date),
      stripePaymentIntentId: 'pi_first',
      updatedAt: expect.any(Date),
    });

    // The same event again changes nothing and answers the row as it stands.
    const again = await db.transaction((tx) => events.in(tx).recordProcessedGranting(event, id, 'pi_other'));
    expect(again).toEqual({ fresh: false, session: marked, subscribed: new Set() });
    expect(await builderRow(id)).toEqual(marked);
    expect(await db.select().from(stripeEvents).where(eq(stripeEvents.id, event.id))).toHaveLength(1);

    // Another event that grants keeps the first grant's time, and a PaymentIntent it does not name.
    const other = { id: `evt_${randomUUID()}`, type: 'checkout.session.async_payment_succeeded' };
    const later = await db.transaction((tx) => events.in(tx).recordProcessedGranting(other, id, null));
    expect(later).toEqual({ fresh: true, session: await builderRow(id), subscribed: new Set() });
    expect(later.session).toEqual({ ...marked, updatedAt: expect.any(Date) });

    const missing = await db.transaction((tx) =>
      events.in(tx).recordProcessedGranting({ ...event, id: `evt_${randomUUID()}` }, 'cs_test_unknown', 'pi_x'),
    );
    expect(missing).toEqual({ fresh: false, session: undefined, subscribed: undefined });
  });

  postgresOnly('the record of a fresh event that grants holds its session’s row until the commit', async () => {
    const { id } = await newSession();
    const event = { id: `evt_${randomUUID()}`, type: 'checkout.session.completed' };
    const lockFromOutside = () =>
      db.transaction((tx) => tx.execute(sql`select 1 from ${checkoutSessions} where id = ${id} for update nowait`));
    let recorded!: () => void;
    const done = new Promise<void>((resolve) => (recorded = resolve));
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => (commit = resolve));
    const holder = db.transaction(async (tx) => {
      await events.in(tx).recordProcessedGranting(event, id, 'pi_locked');
      recorded();
      await committing;
    });
    try {
      await done;
      // Another event of the session (a refund, the success page) waits for this one.
      await expect(lockFromOutside()).rejects.toMatchObject({ cause: { code: '55P03' } });
    } finally {
      commit();
      await holder;
    }
    await lockFromOutside();
  });

  it('the record of an event that grants reads which event types the active endpoints take', async () => {
    const endpoints = new NotificationRepository(db);
    try {
      await endpoints.addEndpoint(`https://hooks.example.test/${randomUUID()}`, ['credits.purchased'], 'sealed');
      const { id } = await newSession();
      const event = { id: `evt_${randomUUID()}`, type: 'checkout.session.completed' };
      const { subscribed } = await db.transaction((tx) => events.in(tx).recordProcessedGranting(event, id, 'pi_1'));
      expect([...subscribed!]).toEqual(['credits.purchased']);
    } finally {
      await db.delete(notificationEndpoints);
    }
  });

  it('update sets what it is given, writes a null, leaves an undefined alone, and touches updated_at', async () => {
    const { orgId, id } = await newSession();
    const before = await builderRow(id);
    const changes = {
      status: 'complete' as const,
      paymentStatus: 'paid',
      fulfilledAt: new Date('2030-05-06T07:08:09.123Z'),
      stripePaymentIntentId: 'pi_123',
      amountTotal: null,
      refundSettledCredits: 9_007_199_254_000,
    };
    await db.transaction((tx) => sessions.in(tx).update(orgId, id, { ...changes, currency: undefined }));
    const after = await builderRow(id);
    expect(after).toEqual({ ...before, ...changes, updatedAt: expect.any(Date) });
    expect(after.updatedAt.getTime()).toBeGreaterThanOrEqual(before.updatedAt.getTime());
  });

  it('update changes only the org’s own session', async () => {
    const mine = await newSession();
    const theirs = await newSession();
    await db.transaction((tx) => sessions.in(tx).update(theirs.orgId, mine.id, { status: 'expired' }));
    expect((await builderRow(mine.id)).status).toBe('open');
  });

  it('update refuses a key that is no column', async () => {
    const { orgId, id } = await newSession();
    await expect(db.transaction((tx) => sessions.in(tx).update(orgId, id, { nonsense: 1 } as never))).rejects.toThrow(
      /no column for 'nonsense'/,
    );
  });

  it('the delivery’s first lookup tells a granted session from a known and an unknown one', async () => {
    const { orgId, id } = await newSession();
    expect(await events.lookup(`evt_${randomUUID()}`, id)).toEqual({ seen: false, known: true, granted: false });
    await db.transaction((tx) => sessions.in(tx).update(orgId, id, { fulfilledAt: new Date() }));
    expect(await events.lookup(`evt_${randomUUID()}`, id)).toEqual({ seen: false, known: true, granted: true });
    expect(await events.lookup(`evt_${randomUUID()}`, 'cs_test_unknown')).toEqual({
      seen: false,
      known: false,
      granted: false,
    });
    expect(await events.lookup(`evt_${randomUUID()}`, null)).toEqual({ seen: false, known: false, granted: false });
  });
});
