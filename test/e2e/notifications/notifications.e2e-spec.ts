import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { LedgerService, NotificationEndpoints } from '@credits/billing';
import {
  notificationDeliveries,
  notificationEvents,
  organizations,
  rows,
  type TransactionType,
} from '@credits/database';
import { startTestApp, type TestApp } from '../../support/test-app';
import { until } from '../../jobs/support';
import { Receiver } from '../../support/notification-receiver';

/** The recipe of docs/api.md, as a host would copy it. */
function verify(rawBody: string, header: string, secret: string, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=') as [string, string]));
  const timestamp = Number(parts.t);
  if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
  const given = parts.v1 ?? '';
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

const THRESHOLD = 100;

describe('Notifications to the host backend', () => {
  let t: TestApp;
  let ledger: LedgerService;
  let endpoints: NotificationEndpoints;
  const receiver = new Receiver();
  let secret: string;

  const orgId = async (slug: string): Promise<string> => {
    await t.admin.createOrg(slug).catch(() => undefined);
    return (await t.db.select().from(organizations).where(eq(organizations.slug, slug)))[0].id;
  };
  const apply = (org: string, amount: number, transactionType: TransactionType = 'admin_adjustment') =>
    t.db.transaction((tx) =>
      ledger.apply(tx, { orgId: org, amount, transactionType, description: 'test', sourceRef: `test:${randomUUID()}` }),
    );
  const eventTypes = async (org: string): Promise<string[]> =>
    (
      await t.db
        .select({ type: notificationEvents.type })
        .from(notificationEvents)
        .where(eq(notificationEvents.orgId, org))
        .orderBy(notificationEvents.createdAt)
    ).map((row) => row.type);

  beforeAll(async () => {
    t = await startTestApp({
      env: { LOW_BALANCE_THRESHOLD: String(THRESHOLD), NOTIFY_RETRY_DELAY_SECONDS: '1' },
    });
    ledger = t.app.get(LedgerService);
    endpoints = t.app.get(NotificationEndpoints);
    ({ secret } = await endpoints.add(await receiver.start()));
  });
  afterAll(async () => {
    await t?.close();
    await receiver.stop();
  });

  it('POSTs a purchase as a signed event the recipe in the docs verifies', async () => {
    const org = await orgId('buyer');
    const { entryId } = await apply(org, 2000, 'purchase');
    await until('the purchase arrived', () => receiver.of('credits.purchased', org).length > 0);
    const [received] = receiver.of('credits.purchased', org);
    expect(received.headers['content-type']).toBe('application/json');
    expect(verify(received.body, received.headers['credits-signature'] as string, secret)).toBe(true);
    expect(verify(received.body.replace('2000', '9000'), received.headers['credits-signature'] as string, secret)).toBe(
      false,
    );
    expect(verify(received.body, received.headers['credits-signature'] as string, 'whsec_other')).toBe(false);
    expect(received.event).toEqual({
      id: expect.stringMatching(/^evt_[0-9a-f]{24}$/),
      type: 'credits.purchased',
      created: expect.any(Number),
      org: { id: org, slug: 'buyer' },
      data: { credits: 2000, balance: 2000, transaction_id: entryId },
    });
    expect(Math.abs(received.event.created - Date.now() / 1000)).toBeLessThan(60);
  });

  it('retries a receiver that failed: the same event id arrives again, and each attempt is recorded', async () => {
    const org = await orgId('flaky');
    receiver.answers = [500];
    await apply(org, 500, 'purchase');
    await until('the retry arrived', () => receiver.of('credits.purchased', org).length >= 2);
    const [first, second] = receiver.of('credits.purchased', org);
    expect([first.status, second.status]).toEqual([500, 200]);
    expect(second.event.id).toBe(first.event.id);
    expect(second.body).toBe(first.body);

    await until('the second attempt is recorded', async () =>
      (await endpoints.deliveries({ failedOnly: false })).some(
        (d) => d.eventId === first.event.id && d.status === 'succeeded',
      ),
    );
    const attempts = (await endpoints.deliveries({ failedOnly: false }))
      .filter((d) => d.eventId === first.event.id)
      .sort((a, b) => a.attempt - b.attempt);
    expect(attempts.map((d) => [d.attempt, d.status, d.responseCode])).toEqual([
      [1, 'failed', 500],
      [2, 'succeeded', 200],
    ]);
    expect((await endpoints.deliveries({ failedOnly: true })).map((d) => d.eventId)).toContain(first.event.id);
  });

  it('fires low_balance once per crossing below the threshold, re-armed above it; depleted at zero', async () => {
    const org = await orgId('spender');
    await apply(org, 500); // 500
    await apply(org, -450); // 50: crosses below 100
    await apply(org, -10); // 40: stays below
    expect(await eventTypes(org)).toEqual(['credits.low_balance']);
    await apply(org, 60); // 100: at the threshold, not low: re-armed
    await apply(org, -1); // 99: crosses again
    await apply(org, -9); // 90
    expect(await eventTypes(org)).toEqual(['credits.low_balance', 'credits.low_balance']);
    await apply(org, -90); // 0
    expect(await eventTypes(org)).toEqual(['credits.low_balance', 'credits.low_balance', 'credits.depleted']);
    await until(
      'both crossings and the depletion arrived',
      () => receiver.received.filter((r) => r.event.org.id === org).length >= 3,
    );
    // One delivery job per event, run by concurrent workers: they arrive in either order.
    const lows = receiver.of('credits.low_balance', org).map((r) => r.event.data);
    expect(lows.sort((x, y) => Number(x.balance) - Number(y.balance))).toEqual([
      expect.objectContaining({ balance: 50, threshold: THRESHOLD }),
      expect.objectContaining({ balance: 99, threshold: THRESHOLD }),
    ]);
    expect(receiver.of('credits.depleted', org).map((r) => r.event.data.balance)).toEqual([0]);
  });

  it('a refund reports the credits it took back', async () => {
    const org = await orgId('refunded');
    await apply(org, 1000, 'purchase');
    await apply(org, -400, 'refund');
    expect(await eventTypes(org)).toEqual(['credits.purchased', 'credits.refunded']);
    await until('the refund arrived', () => receiver.of('credits.refunded', org).length > 0);
    expect(receiver.of('credits.refunded', org)[0].event.data).toEqual(
      expect.objectContaining({ credits: 400, balance: 600 }),
    );
  });

  it('a change rolled back after its ledger statement leaves no event and no delivery job', async () => {
    const org = await orgId('rolledback');
    const dispatchJobs = async () =>
      (
        await rows<{ n: number }>(
          t.db,
          sql`select count(*)::int as n from pgboss.job where name = 'notification-dispatch'`,
        )
      )[0].n;
    const jobsBefore = await dispatchJobs();
    await expect(
      t.db.transaction(async (tx) => {
        const { applied } = await ledger.apply(tx, {
          orgId: org,
          amount: 1000,
          transactionType: 'purchase',
          description: 'rolled back',
          sourceRef: `test:${randomUUID()}`,
        });
        expect(applied).toBe(true);
        throw new Error('a failure after the ledger statement');
      }),
    ).rejects.toThrow('a failure after the ledger statement');
    expect(await eventTypes(org)).toEqual([]);
    expect(await dispatchJobs()).toBe(jobsBefore);
    expect(await ledger.balance(org)).toBe(0);
  });

  it('a purchase applied twice (same source) reports once: no second event, no second delivery job', async () => {
    const org = await orgId('twice');
    const dispatchJobs = async () =>
      (
        await rows<{ n: number }>(
          t.db,
          sql`select count(*)::int as n from pgboss.job where name = 'notification-dispatch'`,
        )
      )[0].n;
    const entry = {
      orgId: org,
      amount: 1000,
      transactionType: 'purchase' as const,
      description: 'twice',
      sourceRef: `test:${randomUUID()}`,
    };
    const first = await t.db.transaction((tx) => ledger.apply(tx, entry));
    const jobsAfterFirst = await dispatchJobs();
    const second = await t.db.transaction((tx) => ledger.apply(tx, entry));
    expect([first.applied, second.applied]).toEqual([true, false]);
    expect(await eventTypes(org)).toEqual(['credits.purchased']);
    expect(await dispatchJobs()).toBe(jobsAfterFirst);
    expect(await ledger.balance(org)).toBe(1000);
  });

  it('an endpoint with an events filter receives only those types', async () => {
    const filtered = new Receiver();
    try {
      await endpoints.add(await filtered.start(), ['credits.depleted']);
      const org = await orgId('filtered');
      await apply(org, 10, 'purchase');
      await apply(org, -10);
      await until('the depletion arrived', () => filtered.of('credits.depleted', org).length > 0);
      await until('the purchase reached the other endpoint', () => receiver.of('credits.purchased', org).length > 0);
      expect(filtered.received.filter((r) => r.event.org.id === org).map((r) => r.event.type)).toEqual([
        'credits.depleted',
      ]);
    } finally {
      await filtered.stop();
    }
  });

  it('a removed endpoint gets nothing more; an operator’s resend goes to each active endpoint again', async () => {
    const leaving = new Receiver();
    try {
      const { endpoint } = await endpoints.add(await leaving.start());
      const org = await orgId('resent');
      await apply(org, 500, 'purchase');
      await until(
        'the purchase reached both endpoints',
        () => receiver.of('credits.purchased', org).length === 1 && leaving.of('credits.purchased', org).length === 1,
      );
      await endpoints.remove(endpoint.id);
      const attemptsAt = (endpointId: string) =>
        t.db
          .select({ eventId: notificationDeliveries.eventId, attempt: notificationDeliveries.attempt })
          .from(notificationDeliveries)
          .where(eq(notificationDeliveries.endpointId, endpointId));
      const before = await attemptsAt(endpoint.id);

      // Scheduled before `resend` answers: the count is every attempt it made.
      const [first] = receiver.of('credits.purchased', org);
      expect(await endpoints.resend(first.event.id)).toBe(1);
      await until('the event arrived again', () => receiver.of('credits.purchased', org).length === 2);
      expect(receiver.of('credits.purchased', org)[1].event.id).toBe(first.event.id);

      // The dispatch schedules every endpoint's attempt in one run, before any is sent: once the
      // active endpoint has the next purchase, the removed one would have an attempt by now.
      await apply(org, 500, 'purchase');
      await until('the next purchase arrived', () => receiver.of('credits.purchased', org).length === 3);
      expect(await attemptsAt(endpoint.id)).toEqual(before);
      expect(leaving.of('credits.purchased', org)).toHaveLength(1);
    } finally {
      await leaving.stop();
    }
  });

  it('refuses an unknown event type and a URL it would not deliver to', async () => {
    await expect(endpoints.add('http://127.0.0.1:1/x', ['credits.unknown'])).rejects.toThrow(/unknown event type/);
    await expect(endpoints.add('ftp://127.0.0.1/x')).rejects.toThrow(/refused/);
  });
});
