import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { RetentionSchedule } from '@credits/billing/retention/retention.job';
import { rows } from '@credits/database';
import { startTestApp, type TestApp } from '../support/test-app';
import { debit, grant, orgId, spender } from './usage/kit';

/**
 * Issue 17.7: nothing grows without bound. The retention job deletes expired usage records and
 * idempotency keys, and old notification events with their finished deliveries, in batches,
 * and keeps everything still of use.
 */
describe('retention (RETENTION_*, NOTIFICATION_RETENTION_DAYS)', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Batches of 2: five expired rows take three statements.
    t = await startTestApp({ env: { RETENTION_BATCH_SIZE: '2', NOTIFICATION_RETENTION_DAYS: '30' } });
  });
  afterAll(() => t?.close());

  const count = async (query: ReturnType<typeof sql>) => Number((await rows<{ n: number }>(t.db, query))[0].n);

  it('deletes what is past its retention, in batches, and keeps the rest', async () => {
    const slug = `retention-${randomUUID().slice(0, 6)}`;
    const key = await spender(t.db, slug);
    await grant(t.app, t.db, slug, 1000);
    const id = await orgId(t.db, slug);

    // Six debits; five of their records are made past their 30 days.
    const keys = Array.from({ length: 6 }, () => randomUUID());
    for (const k of keys) expect((await debit(t, key, slug, { amount: 1 }, k)).status).toBe(200);
    await t.db.execute(sql`update usage_records set expires_at = now() - interval '1 second'
                           where org_id = ${id} and idempotency_key <> ${keys[5]}`);

    // Idempotency keys: five expired and answered, one expired but still held by a request, one live.
    const user = randomUUID();
    const key_ = (k: string, expired: boolean, state = 'completed', lockedFor = '-1 minute') =>
      sql`insert into idempotency_keys (user_id, org_id, key, request_hash, state, locked_until, expires_at)
          values (${user}, ${id}, ${k}, 'h', ${state}, now() + ${lockedFor}::interval,
                  now() + ${expired ? '-1 second' : '1 day'}::interval)`;
    for (let i = 0; i < 5; i++) await t.db.execute(key_(`old-${i}`, true));
    await t.db.execute(key_('held', true, 'in_progress', '1 minute'));
    await t.db.execute(key_('live', false));

    // Notification events: two old ones delivered, one old one still being retried, one recent.
    const [endpoint] = await rows<{ id: string }>(
      t.db,
      sql`insert into notification_endpoints (url, secret_ciphertext) values ('https://host.test/hook', 'x') returning id`,
    );
    const event = async (age: string, delivery: string | null) => {
      const eventId = `evt_${randomUUID().replaceAll('-', '')}`;
      await t.db.execute(sql`insert into notification_events (id, type, org_id, data, created_at)
                             values (${eventId}, 'credits.low_balance', ${id}, '{}', now() - ${age}::interval)`);
      if (delivery) {
        await t.db.execute(sql`insert into notification_deliveries (endpoint_id, event_id, attempt, status, created_at)
                               values (${endpoint.id}, ${eventId}, 1, ${delivery}, now() - ${age}::interval)`);
      }
      return eventId;
    };
    const delivered = [await event('40 days', 'succeeded'), await event('40 days', 'given_up')];
    const undelivered = await event('40 days', null);
    const retrying = await event('40 days', 'failed');
    const recent = await event('1 day', 'succeeded');

    const report = await t.app.get(RetentionSchedule).run();

    expect(report).toEqual({ usageRecords: 5, idempotencyKeys: 5, notificationDeliveries: 2, notificationEvents: 3 });
    expect(await count(sql`select count(*)::int as n from usage_records where org_id = ${id}`)).toBe(1);
    const keptKeys = await rows<{ key: string }>(
      t.db,
      sql`select key from idempotency_keys where user_id = ${user} order by key`,
    );
    expect(keptKeys.map((k) => k.key)).toEqual(['held', 'live']);
    const made = [...delivered, undelivered, retrying, recent];
    const keptEvents = (await rows<{ id: string }>(t.db, sql`select id from notification_events`))
      .map((e) => e.id)
      .filter((e) => made.includes(e));
    expect(keptEvents.sort()).toEqual([retrying, recent].sort());
    // The ledger is never touched: the six debits are all still there.
    expect(
      await count(
        sql`select count(*)::int as n from credit_ledger where org_id = ${id} and transaction_type = 'usage'`,
      ),
    ).toBe(6);

    // A second run finds nothing left to delete.
    expect(await t.app.get(RetentionSchedule).run()).toEqual({
      usageRecords: 0,
      idempotencyKeys: 0,
      notificationDeliveries: 0,
      notificationEvents: 0,
    });
  });
});
