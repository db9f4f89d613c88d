import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { Client } from 'pg';
import { NotificationEndpoints } from '@credits/billing';
import { notificationEndpoints } from '@credits/database';
import { ServiceUnavailableError } from '@credits/errors';
import { Receiver } from '../../support/notification-receiver';
import { startStack, type Stack } from '../../support/stack';
import { until } from '../../support/until';
import { createSession, payloadOf, payQuietly, postWebhook, rows } from '../fulfilment/helpers';

/**
 * A purchase granted by Stripe's webhook writes its event's delivery job only when some
 * endpoint takes the event, and an endpoint's registration is ordered against the purchases
 * being applied: each commits before the endpoint exists, or sees it and is delivered to it.
 */
describe('purchase notifications from the webhook', () => {
  let s: Stack;
  let key: string;
  let endpoints: NotificationEndpoints;
  const receiver = new Receiver();
  let receiverUrl: string;

  beforeAll(async () => {
    s = await startStack({ env: { BUNDLE_UNIT_AMOUNT: '700', CREDITS_PER_BUNDLE: '1000' } });
    key = await s.member('acme', 'admin@acme.test', 'admin');
    endpoints = s.app.get(NotificationEndpoints);
    receiverUrl = await receiver.start();
  });
  afterEach(() => s.db.update(notificationEndpoints).set({ removedAt: new Date() }));
  afterAll(async () => {
    await s?.close();
    await receiver.stop();
  });

  /** A paid session whose `checkout.session.completed` is not delivered yet. */
  const paidSession = async () => {
    const sessionId = await createSession(s, key, 'acme');
    return { sessionId, eventId: (await payQuietly(s, sessionId)).eventId };
  };
  const deliver = async (eventId: string) => (await postWebhook(s, await payloadOf(s, eventId))).body as unknown;
  /** The session's `credits.purchased` events, and the delivery jobs written for them. */
  const notified = async (sessionId: string) =>
    (
      await rows<{ events: number; jobs: number }>(
        s.db,
        sql`select count(distinct n.id)::int as events, count(j.id)::int as jobs
            from notification_events n
            left join pgboss.job j on j.name = 'notification-dispatch' and j.data->'eventIds' ? n.id
            where n.type = 'credits.purchased' and n.data->>'checkout_session_id' = ${sessionId}::text`,
      )
    )[0];
  /** Connections waiting for a lock of `mode` on `stripe_events`, in this suite's database. */
  const waitingFor = async (mode: 'ShareLock' | 'RowExclusiveLock') =>
    (
      await rows<{ n: number }>(
        s.db,
        sql`select count(*)::int as n from pg_locks l
            where l.database = (select oid from pg_database where datname = current_database())
              and l.relation = 'stripe_events'::regclass and l.mode = ${mode}::text and not l.granted`,
      )
    )[0].n;
  /** A transaction applying a Stripe event, held open: it has recorded its event and not committed. */
  const eventBeingApplied = async () => {
    const holder = new Client({ connectionString: s.config.database.url });
    // The suite's database is dropped at its end, ending this connection if a test left it open.
    holder.on('error', () => undefined);
    await holder.connect();
    await holder.query('begin');
    await holder.query(
      `insert into stripe_events (id, type, outcome) values ($1, 'checkout.session.completed', 'processed')`,
      [`evt_held_${randomUUID()}`],
    );
    let open = true;
    return {
      /** Commits or rolls back, once: a later call does nothing. */
      end: async (how: 'commit' | 'rollback') => {
        if (!open) return;
        open = false;
        await holder.query(how);
        await holder.end();
      },
    };
  };

  it('writes the event, and its delivery job only while an endpoint takes it', async () => {
    const nobody = await paidSession();
    expect(await deliver(nobody.eventId)).toEqual({ received: true, outcome: 'processed' });
    expect(await notified(nobody.sessionId)).toEqual({ events: 1, jobs: 0 });

    await endpoints.add(receiverUrl, ['credits.refunded']);
    const otherTypes = await paidSession();
    expect(await deliver(otherTypes.eventId)).toEqual({ received: true, outcome: 'processed' });
    expect(await notified(otherTypes.sessionId)).toEqual({ events: 1, jobs: 0 });

    await endpoints.add(receiverUrl, ['credits.purchased']);
    const taken = await paidSession();
    expect(await deliver(taken.eventId)).toEqual({ received: true, outcome: 'processed' });
    expect(await notified(taken.sessionId)).toEqual({ events: 1, jobs: 1 });
    await until('the purchase reached the endpoint', () =>
      receiver.of('credits.purchased').some((r) => r.event.data.checkout_session_id === taken.sessionId),
    );
  });

  it('an endpoint is registered once the events being applied commit; an event arriving meanwhile sees it', async () => {
    const late = await paidSession();
    const held = await eventBeingApplied();
    try {
      let registered = false;
      const registering = endpoints.add(receiverUrl).then((added) => ((registered = true), added));
      await until(
        'the registration waits for the event being applied',
        async () => (await waitingFor('ShareLock')) === 1,
      );
      const delivering = deliver(late.eventId);
      await until(
        'the next event waits for the registration',
        async () => (await waitingFor('RowExclusiveLock')) === 1,
      );
      expect(registered).toBe(false);

      await held.end('commit');
      expect((await registering).endpoint.removedAt).toBeNull();
      expect(await delivering).toEqual({ received: true, outcome: 'processed' });
      expect(await notified(late.sessionId)).toEqual({ events: 1, jobs: 1 });
    } finally {
      await held.end('rollback');
    }
  });

  it('a registration that waits past its limit fails, with nothing written', async () => {
    const before = (await s.db.select().from(notificationEndpoints)).length;
    const held = await eventBeingApplied();
    try {
      const refused = endpoints.add(receiverUrl);
      await expect(refused).rejects.toBeInstanceOf(ServiceUnavailableError);
      await expect(refused).rejects.toThrow('the endpoint was not added');
    } finally {
      await held.end('rollback');
    }
    expect(await s.db.select().from(notificationEndpoints)).toHaveLength(before);
  });
});
