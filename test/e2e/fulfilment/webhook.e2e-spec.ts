import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import Stripe from 'stripe';
import { AdminAdjustments, type LedgerEntryInput, LedgerService, NotificationEndpoints } from '@credits/billing';
import { checkoutSessions, creditGrants, creditLedger, organizations, stripeEvents } from '@credits/database';
import { startStack, Stack } from '../../support/stack';
import {
  CANCEL_URL,
  count,
  createSession,
  eventJson,
  expectLedgerConsistent,
  payloadOf,
  payQuietly,
  postWebhook,
  refundQuietly,
  rows,
  sign,
  SUCCESS_URL,
} from './helpers';
import { bearer } from '../../support/auth';
import { until } from '../../support/until';
import { Receiver } from '../../support/notification-receiver';
import { envelope } from '../../support/envelope';

/**
 * The webhook over real HTTP: signature checks, each event type, refunds, permanent and
 * transient failures. Events come from the emulator (`deliver: false`, the exact payload
 * Stripe-style) or are built here, and are posted directly so order and repetition are ours.
 * A bundle costs 700 (cents) for 1000 credits, so refund shares round.
 */
describe('POST /api/v1/stripe/webhook', () => {
  let s: Stack;
  let key: string;
  let orgId: string;
  let stripe: Stripe;

  const keys = new Map<string, string>();
  const balanceOf = async (slug = 'acme') =>
    (await s.request('GET', `/api/v1/org/${slug}/credits`, { headers: bearer(keys.get(slug)!) })).body
      .balance as number;
  const entriesOf = (sessionId: string) =>
    s.db.select().from(creditLedger).where(eq(creditLedger.checkoutSessionId, sessionId)).orderBy(creditLedger.seq);
  const eventRow = async (id: string) => (await s.db.select().from(stripeEvents).where(eq(stripeEvents.id, id)))[0];
  const sessionRow = async (id: string) =>
    (await s.db.select().from(checkoutSessions).where(eq(checkoutSessions.id, id)))[0];
  const deliver = async (eventId: string) => postWebhook(s, await payloadOf(s, eventId));
  /** A credit written by hand, as an operator's repair or bonus would be, in its own transaction. */
  const creditByHand = (input: LedgerEntryInput) => s.db.transaction((tx) => s.app.get(LedgerService).apply(tx, input));
  /**
   * Runs `deliveries` while an endpoint takes `credits.purchased`: only then does a grant write
   * its event's delivery job. The endpoint is removed after, whatever happened.
   */
  const whilePurchasesAreTaken = async (deliveries: () => Promise<void>) => {
    const receiver = new Receiver();
    const endpoints = s.app.get(NotificationEndpoints);
    const { endpoint } = await endpoints.add(await receiver.start(), ['credits.purchased']);
    try {
      await deliveries();
    } finally {
      await endpoints.remove(endpoint.id);
      await receiver.stop();
    }
  };
  /** A new org with an admin key, so each test starts from a zero balance. */
  const freshOrg = async () => {
    const slug = `org-${randomUUID().slice(0, 8)}`;
    const adminKey = await s.member(slug, `admin@${slug}.test`, 'admin');
    keys.set(slug, adminKey);
    return { slug, adminKey };
  };

  beforeAll(async () => {
    s = await startStack({ env: { BUNDLE_UNIT_AMOUNT: '700', CREDITS_PER_BUNDLE: '1000' } });
    key = await s.member('acme', 'admin@acme.test', 'admin');
    keys.set('acme', key);
    orgId = (await s.db.select().from(organizations).where(eq(organizations.slug, 'acme')))[0].id;
    stripe = new Stripe('sk_test_webhook_spec', {
      host: '127.0.0.1',
      port: s.emulator.port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
  });
  afterAll(() => s?.close());
  afterEach(() => expectLedgerConsistent(s.db));

  describe('signature', () => {
    let payload: string;

    beforeAll(async () => {
      const sessionId = await createSession(s, key, 'acme');
      payload = await payloadOf(s, (await payQuietly(s, sessionId)).eventId);
    });

    const expectNothingWritten = async (before: [number, number]) => {
      expect([await count(s.db, 'stripe_events'), await count(s.db, 'credit_ledger')]).toEqual(before);
    };
    const snapshot = async (): Promise<[number, number]> => [
      await count(s.db, 'stripe_events'),
      await count(s.db, 'credit_ledger'),
    ];

    it.each([
      ['a signature made with another secret', () => sign(payload, { secret: 'whsec_someone_else' })],
      ['a stale timestamp (> 300 s)', () => sign(payload, { timestamp: Math.floor(Date.now() / 1000) - 301 })],
      ['a header that is not a signature', () => 'garbage'],
      ['an empty header', () => ''],
      ['a header without v1', () => `t=${Math.floor(Date.now() / 1000)}`],
    ])('%s -> 400 invalid_signature_error, nothing written', async (_name, header) => {
      const before = await snapshot();
      const res = await postWebhook(s, payload, header());
      expect(res.status).toBe(400);
      expect(res.body).toEqual(envelope(400, 'invalid_signature_error'));
      await expectNothingWritten(before);
    });

    it('a tampered body -> 400 invalid_signature_error, nothing written', async () => {
      const before = await snapshot();
      const signature = sign(payload);
      const tampered = payload.replace(/"amount_total":\s*\d+/, '"amount_total": 1');
      expect(tampered).not.toBe(payload);
      const res = await postWebhook(s, tampered, signature);
      expect([res.status, res.body.type]).toEqual([400, 'invalid_signature_error']);
      await expectNothingWritten(before);
    });

    it('a missing header -> 400 invalid_signature_error, nothing written', async () => {
      const before = await snapshot();
      const res = await postWebhook(s, payload, null);
      expect([res.status, res.body.type]).toEqual([400, 'invalid_signature_error']);
      await expectNothingWritten(before);
    });

    it.each([
      ['not JSON', '{"id": "evt_1", "type": '],
      ['JSON but not an event', '{"hello": "world"}'],
      ['an event without data.object', '{"id": "evt_x", "object": "event", "type": "charge.refunded", "data": {}}'],
      ['JSON null', 'null'],
    ])('a signed payload that is %s -> 400 invalid_request_error', async (_name, body) => {
      const before = await snapshot();
      const res = await postWebhook(s, body);
      expect([res.status, res.body.type]).toEqual([400, 'invalid_request_error']);
      await expectNothingWritten(before);
    });

    it('the same payload, validly signed, is accepted (the checks above are not vacuous)', async () => {
      const res = await postWebhook(s, payload);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ received: true, outcome: 'processed' });
    });
  });

  it("takes Stripe's larger bodies (over the API's 64 KiB), up to WEBHOOK_BODY_LIMIT_BYTES", async () => {
    const object = (size: number) => ({ id: 'cus_big', object: 'customer', description: 'x'.repeat(size) });
    const large = await postWebhook(s, eventJson('customer.updated', object(300 * 1024)));
    expect(large.body).toEqual({ received: true, outcome: 'ignored' });
    const tooLarge = await postWebhook(s, eventJson('customer.updated', object(1100 * 1024)));
    expect([tooLarge.status, tooLarge.body.type]).toEqual([413, 'payload_too_large_error']);
  });

  it('another event type -> 200 ignored, recorded, no credits', async () => {
    const id = `evt_${randomUUID()}`;
    const before = await count(s.db, 'credit_ledger');
    const res = await postWebhook(s, eventJson('customer.created', { id: 'cus_123', object: 'customer' }, id));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, outcome: 'ignored' });
    expect(await eventRow(id)).toMatchObject({ type: 'customer.created', outcome: 'ignored' });
    expect(await count(s.db, 'credit_ledger')).toBe(before);
  });

  describe('grants', () => {
    it('completed (paid) grants the session\'s credits once; duplicates answer "duplicate"', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 3);
      const paid = await payQuietly(s, sessionId);
      const first = await deliver(paid.eventId);
      expect(first.body).toEqual({ received: true, outcome: 'processed' });
      for (let i = 0; i < 3; i++) expect((await deliver(paid.eventId)).body.outcome).toBe('duplicate');

      const entries = await entriesOf(sessionId);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        amount: 3000,
        balanceAfter: 3000,
        transactionType: 'purchase',
        sourceRef: `purchase:${sessionId}`,
      });
      expect(await sessionRow(sessionId)).toMatchObject({
        status: 'complete',
        paymentStatus: 'paid',
        stripePaymentIntentId: paid.paymentIntentId,
        fulfilledAt: expect.any(Date),
      });
      expect(await eventRow(paid.eventId)).toMatchObject({ outcome: 'processed' });
    });

    it('a session whose grant is already in the ledger is granted once, and no job is left for a grant not made', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 2);
      const paid = await payQuietly(s, sessionId);
      const [org] = await s.db.select().from(organizations).where(eq(organizations.slug, slug));
      // The grant in the ledger while the session is not marked granted (a repair by hand).
      await creditByHand({
        orgId: org.id,
        amount: 2000,
        transactionType: 'purchase',
        description: 'granted by an operator',
        sourceRef: `purchase:${sessionId}`,
        checkoutSessionId: sessionId,
      });
      // Jobs naming what was never written: a delivery job with an event that does not exist,
      // a receipt job for this payment (the operator's grant wrote none).
      const orphanJobs = async () => {
        const [{ dispatch, details }] = await rows<{ dispatch: number; details: number }>(
          s.db,
          sql`select count(*) filter (where j.name = 'notification-dispatch' and exists (
                       select 1 from jsonb_array_elements_text(j.data->'eventIds') e(id)
                       where not exists (select 1 from notification_events n where n.id = e.id)))::int as dispatch,
                     count(*) filter (where j.name = 'payment-details' and j.data->>'paymentIntentId' = ${paid.paymentIntentId})::int as details
              from pgboss.job j`,
        );
        return { dispatch, details };
      };
      expect(await orphanJobs()).toEqual({ dispatch: 0, details: 0 });

      // Stripe fails the receipt's read before the grant, so the grant writes a receipt job too;
      // an endpoint takes purchases, so it writes its event's delivery job as well.
      await s.control('POST', '/faults', {
        path: `/v1/payment_intents/${paid.paymentIntentId}`,
        method: 'GET',
        status: 500,
        times: 1,
      });
      await whilePurchasesAreTaken(async () => {
        expect((await deliver(paid.eventId)).body).toEqual({ received: true, outcome: 'processed' });
      });
      await s.control('DELETE', '/faults');
      expect((await entriesOf(sessionId)).map((e) => [e.amount, e.description])).toEqual([
        [2000, 'granted by an operator'],
      ]);
      expect(await sessionRow(sessionId)).toMatchObject({ status: 'complete', fulfilledAt: expect.any(Date) });
      expect(await balanceOf(slug)).toBe(2000);
      // The jobs a grant writes before its credit (its events' delivery, the receipt) are
      // withdrawn when the credit writes nothing.
      expect(await orphanJobs()).toEqual({ dispatch: 0, details: 0 });
    });

    it('a purchase whose org has a grant expiring meanwhile writes the expiry first, and is granted once', async () => {
      const { slug, adminKey } = await freshOrg();
      const [org] = await s.db.select().from(organizations).where(eq(organizations.slug, slug));
      await creditByHand({
        orgId: org.id,
        amount: 400,
        transactionType: 'admin_adjustment',
        description: 'a bonus',
        sourceRef: `bonus:${randomUUID()}`,
        grant: { category: 'promotional', expiry: { afterSeconds: 3600 } },
      });
      const sessionId = await createSession(s, adminKey, slug, 1);
      const paid = await payQuietly(s, sessionId);
      // As if an hour and a second had passed: the bonus expired, and nothing wrote that off yet.
      const back = sql`interval '3601 seconds'`;
      await s.db.execute(
        sql`update credit_grants set effective_at = effective_at - ${back}, expires_at = expires_at - ${back},
              created_at = created_at - ${back} where org_id = ${org.id}::uuid`,
      );
      await s.db.execute(
        sql`update credit_balances set next_expiry_at = next_expiry_at - ${back} where org_id = ${org.id}::uuid`,
      );

      // An endpoint takes purchases, so the grant writes its event's delivery job (none otherwise).
      await whilePurchasesAreTaken(async () => {
        expect((await deliver(paid.eventId)).body).toEqual({ received: true, outcome: 'processed' });
        expect((await deliver(paid.eventId)).body.outcome).toBe('duplicate');
      });
      const entries = await s.db
        .select()
        .from(creditLedger)
        .where(eq(creditLedger.orgId, org.id))
        .orderBy(creditLedger.seq);
      expect(entries.map((e) => [e.transactionType, e.amount, e.balanceAfter])).toEqual([
        ['admin_adjustment', 400, 400],
        ['expiration', -400, 0],
        ['purchase', 1000, 1000],
      ]);
      expect(await balanceOf(slug)).toBe(1000);
      expect(await eventRow(paid.eventId)).toMatchObject({ outcome: 'processed' });
      const [{ jobs }] = await rows<{ jobs: number }>(
        s.db,
        sql`select count(*)::int as jobs from pgboss.job j, notification_events n
            where j.name = 'notification-dispatch' and n.org_id = ${org.id}::uuid and n.type = 'credits.purchased'
              and j.data->'eventIds' ? n.id`,
      );
      expect(jobs).toBe(1);
    });

    it('the credits come from our record, not from the event body', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 1);
      const paid = await payQuietly(s, sessionId);
      const event = JSON.parse(await payloadOf(s, paid.eventId));
      event.data.object.amount_total = 700_000;
      event.data.object.metadata.credits = '1000000';
      event.data.object.metadata.bundles = '1000';
      await postWebhook(s, JSON.stringify(event));
      expect((await entriesOf(sessionId)).map((e) => e.amount)).toEqual([1000]);
    });

    it('async: completed (unpaid) waits, async_payment_succeeded grants, a late completed does not grant again', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 2);
      const paid = await payQuietly(s, sessionId, true);
      expect((await deliver(paid.eventId)).body.outcome).toBe('processed');
      expect(await entriesOf(sessionId)).toHaveLength(0);
      expect(await sessionRow(sessionId)).toMatchObject({
        status: 'complete',
        paymentStatus: 'unpaid',
        fulfilledAt: null,
      });

      const succeeded = await s.control('POST', `/sessions/${sessionId}/async_succeeded`, { deliver: false });
      expect((await deliver(succeeded.events[0].id)).body.outcome).toBe('processed');
      expect((await entriesOf(sessionId)).map((e) => e.amount)).toEqual([2000]);
      expect(await sessionRow(sessionId)).toMatchObject({ status: 'complete', paymentStatus: 'paid' });
    });

    it('async out of order: async_payment_succeeded before completed (unpaid) grants once and stays paid', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 1);
      const completed = await payQuietly(s, sessionId, true);
      const succeeded = (await s.control('POST', `/sessions/${sessionId}/async_succeeded`, { deliver: false }))
        .events[0].id;
      await deliver(succeeded);
      await deliver(completed.eventId);
      await deliver(succeeded);
      expect((await entriesOf(sessionId)).map((e) => e.amount)).toEqual([1000]);
      expect(await sessionRow(sessionId)).toMatchObject({
        status: 'complete',
        paymentStatus: 'paid',
        fulfilledAt: expect.any(Date),
      });
    });

    it('async_payment_failed marks the session failed, no credits', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 1);
      const completed = await payQuietly(s, sessionId, true);
      const failed = (await s.control('POST', `/sessions/${sessionId}/async_failed`, { deliver: false })).events[0].id;
      await deliver(failed);
      await deliver(completed.eventId);
      expect(await entriesOf(sessionId)).toHaveLength(0);
      expect(await sessionRow(sessionId)).toMatchObject({ status: 'failed', fulfilledAt: null });
      expect(await balanceOf(slug)).toBe(0);
    });

    it('expired marks the session expired, no credits', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 1);
      const expired = (await s.control('POST', `/sessions/${sessionId}/expire`, { deliver: false })).events[0].id;
      expect((await deliver(expired)).body.outcome).toBe('processed');
      expect(await sessionRow(sessionId)).toMatchObject({ status: 'expired', fulfilledAt: null });
      expect(await entriesOf(sessionId)).toHaveLength(0);
    });

    it('a session we have no record of is read back from Stripe (line items) and granted', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 2);
      // As if the process died after Stripe created the session but before our insert.
      await s.db.delete(checkoutSessions).where(eq(checkoutSessions.id, sessionId));
      const paid = await payQuietly(s, sessionId);
      expect((await deliver(paid.eventId)).body.outcome).toBe('processed');
      expect((await entriesOf(sessionId)).map((e) => e.amount)).toEqual([2000]);
      expect(await sessionRow(sessionId)).toMatchObject({
        bundles: 2,
        credits: 2000,
        amountTotal: 1400,
        status: 'complete',
      });
    });

    it('a session read back from Stripe is granted the credits promised when it was created, not a changed price', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 2);
      await s.db.delete(checkoutSessions).where(eq(checkoutSessions.id, sessionId));
      // CREDITS_PER_BUNDLE changes between the purchase and its payment.
      (s.config.checkout as { creditsPerBundle: number }).creditsPerBundle = 5000;
      try {
        const paid = await payQuietly(s, sessionId);
        expect((await deliver(paid.eventId)).body.outcome).toBe('processed');
      } finally {
        (s.config.checkout as { creditsPerBundle: number }).creditsPerBundle = 1000;
      }
      expect((await entriesOf(sessionId)).map((e) => e.amount)).toEqual([2000]);
    });
  });

  describe('the receipt', () => {
    afterEach(() => s.control('DELETE', '/faults'));

    /** The payment-details jobs queued for this payment (a job writes a receipt the grant could not). */
    const detailsJobs = async (paymentIntentId: string) =>
      (
        await rows<{ n: number }>(
          s.db,
          sql`select count(*)::int as n from pgboss.job
              where name = 'payment-details' and data->>'paymentIntentId' = ${paymentIntentId}`,
        )
      )[0].n;

    it('a paid purchase is granted with its receipt, and leaves no job to write it', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 1);
      const paid = await payQuietly(s, sessionId);
      expect((await deliver(paid.eventId)).body.outcome).toBe('processed');
      const [entry] = await entriesOf(sessionId);
      expect(entry.receiptUrl).toMatch(/^https?:\/\/.+\/receipts\/ch_/);
      expect(await detailsJobs(paid.paymentIntentId)).toBe(0);
    });

    it('a purchase the success page granted first: its webhook asks Stripe nothing', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 1);
      const paid = await payQuietly(s, sessionId);
      const landing = await s.request('GET', `/api/v1/org/${slug}/credits/checkout/${sessionId}`, {
        headers: bearer(adminKey),
      });
      expect(landing.body).toMatchObject({ fulfilled: true });
      const [entry] = await entriesOf(sessionId);
      expect(entry.receiptUrl).toMatch(/^https?:\/\//);

      expect((await deliver(paid.eventId)).body.outcome).toBe('processed');
      expect(await s.stripeRequests(`/v1/payment_intents/${paid.paymentIntentId}`, 'GET')).toEqual([]);
      expect((await entriesOf(sessionId)).map((e) => [e.amount, e.receiptUrl])).toEqual([[1000, entry.receiptUrl]]);
    });

    it('Stripe slow to tell it: the credits are granted without waiting longer, the job writes the receipt after', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 1);
      const paid = await payQuietly(s, sessionId);
      // Only the first read is slow, longer than the grant waits: a grant that waited for it, or
      // asked again (the gateway's retries), would show its receipt.
      await s.control('POST', '/faults', {
        path: `/v1/payment_intents/${paid.paymentIntentId}`,
        method: 'GET',
        delay_ms: 5000,
        times: 1,
      });
      expect((await deliver(paid.eventId)).body.outcome).toBe('processed');
      expect(await balanceOf(slug)).toBe(1000);
      // The grant wrote a receipt job: it had no receipt (the job may already have written it).
      expect(await detailsJobs(paid.paymentIntentId)).toBe(1);
      await until('the receipt written by the job', async () => (await entriesOf(sessionId))[0].receiptUrl !== null);
    });
  });

  describe('Stripe failing while a session we have no record of is read back: 5xx, nothing written, the retry grants once', () => {
    afterEach(() => s.control('DELETE', '/faults'));

    it.each([
      ['answers errors', 502, 'payment_provider_error', { status: 500 }],
      ['does not answer in time', 504, 'gateway_timeout_error', { delay_ms: 5000 }],
    ])('Stripe %s -> %i %s', async (_name, status, type, fault) => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 1);
      await s.db.delete(checkoutSessions).where(eq(checkoutSessions.id, sessionId));
      const paid = await payQuietly(s, sessionId);
      const payload = await payloadOf(s, paid.eventId);
      await s.control('POST', '/faults', { path: `/v1/checkout/sessions/${sessionId}`, method: 'GET', ...fault });

      const failed = await postWebhook(s, payload);
      expect([failed.status, failed.body.type]).toEqual([status, type]);
      expect(await eventRow(paid.eventId)).toBeUndefined();
      expect(await sessionRow(sessionId)).toBeUndefined();
      expect(await balanceOf(slug)).toBe(0);

      await s.control('DELETE', '/faults');
      expect((await postWebhook(s, payload)).body).toEqual({ received: true, outcome: 'processed' });
      expect((await entriesOf(sessionId)).map((e) => e.amount)).toEqual([1000]);
    });
  });

  describe('permanent failures: 2xx, recorded, logged', () => {
    /** A session created on Stripe by someone else, with our metadata keys filled in by hand. */
    const foreignSession = async (metadata: Record<string, string>) => {
      const session = await stripe.checkout.sessions.create({
        mode: 'payment',
        success_url: SUCCESS_URL,
        cancel_url: CANCEL_URL,
        line_items: [
          { quantity: 1, price_data: { currency: 'usd', unit_amount: 700, product_data: { name: 'Credit bundle' } } },
        ],
        metadata,
      });
      return session.id;
    };

    it.each([
      ['an unknown org in metadata', () => ({ org_id: randomUUID(), user_id: randomUUID() })],
      ['an org id that is not a UUID', () => ({ org_id: 'acme', user_id: 'alice' })],
      ['no metadata at all', () => ({})],
    ])('%s -> 200 failed_permanently, no credits', async (_name, metadata) => {
      const sessionId = await foreignSession(metadata());
      const paid = await payQuietly(s, sessionId);
      const ledger = await count(s.db, 'credit_ledger');
      const res = await deliver(paid.eventId);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ received: true, outcome: 'failed_permanently' });
      expect(await eventRow(paid.eventId)).toMatchObject({
        outcome: 'failed_permanently',
        detail: expect.stringContaining(sessionId),
      });
      expect(await count(s.db, 'credit_ledger')).toBe(ledger);
      expect(await sessionRow(sessionId)).toBeUndefined();
      expect(s.logs.some((line) => line.includes(paid.eventId) && line.includes('cannot be applied'))).toBe(true);
      // A redelivery stays a no-op.
      expect((await deliver(paid.eventId)).body.outcome).toBe('duplicate');
    });

    it('a session Stripe does not know either (a hand-made event) -> 200 failed_permanently, not retried for days', async () => {
      const id = `evt_${randomUUID()}`;
      const sessionId = `cs_test_${randomUUID().replace(/-/g, '')}`;
      const res = await postWebhook(
        s,
        eventJson(
          'checkout.session.completed',
          { id: sessionId, object: 'checkout.session', payment_status: 'paid' },
          id,
        ),
      );
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ received: true, outcome: 'failed_permanently' });
      expect(await eventRow(id)).toMatchObject({
        outcome: 'failed_permanently',
        detail: expect.stringContaining('does not exist at Stripe'),
      });
      expect(
        s.logs.some(
          (line) => line.includes('configuration_error') || line.includes('Stripe rejected a request we built'),
        ),
      ).toBe(false);
    });

    it('a refund for a charge of no session we know -> 200 failed_permanently', async () => {
      const id = `evt_${randomUUID()}`;
      const charge = {
        id: 'ch_unknown',
        object: 'charge',
        amount: 700,
        amount_refunded: 700,
        currency: 'usd',
        payment_intent: 'pi_unknown_to_everyone',
        refunded: true,
        status: 'succeeded',
        paid: true,
      };
      const res = await postWebhook(s, eventJson('charge.refunded', charge, id));
      expect(res.status).toBe(200);
      expect(res.body.outcome).toBe('failed_permanently');
      expect(await eventRow(id)).toMatchObject({ type: 'charge.refunded', outcome: 'failed_permanently' });
    });

    it('a refund for a charge without a payment intent -> 200 failed_permanently', async () => {
      const id = `evt_${randomUUID()}`;
      const charge = {
        id: 'ch_nopi',
        object: 'charge',
        amount: 700,
        amount_refunded: 700,
        currency: 'usd',
        payment_intent: null,
        status: 'succeeded',
        paid: true,
      };
      const res = await postWebhook(s, eventJson('charge.refunded', charge, id));
      expect([res.status, res.body.outcome]).toEqual([200, 'failed_permanently']);
      expect(await eventRow(id)).toMatchObject({ outcome: 'failed_permanently' });
    });
  });

  describe('refunds', () => {
    /** Credits spent as the host would spend them (a usage entry), before a refund comes. */
    const spend = (orgId: string, amount: number, drawFirstFrom?: string) =>
      s.db.transaction((tx) =>
        s.app.get(LedgerService).apply(tx, {
          orgId,
          amount: -amount,
          transactionType: 'usage',
          description: 'spent',
          sourceRef: `usage:${randomUUID()}`,
          drawFirstFrom,
        }),
      );
    /** A paid, granted session of a fresh org: 2 bundles = 2000 credits for 1400. */
    const grantedSession = async (quantity = 2) => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, quantity);
      const paid = await payQuietly(s, sessionId);
      await deliver(paid.eventId);
      return { slug, adminKey, sessionId, ...paid };
    };
    const refundsOf = async (sessionId: string) =>
      (await entriesOf(sessionId)).filter((e) => e.transactionType === 'refund').map((e) => e.amount);

    it('a full refund debits everything the session granted, once', async () => {
      const { slug, sessionId, chargeId } = await grantedSession();
      const refund = await refundQuietly(s, chargeId);
      expect((await deliver(refund)).body.outcome).toBe('processed');
      expect((await deliver(refund)).body.outcome).toBe('duplicate');
      expect(await refundsOf(sessionId)).toEqual([-2000]);
      expect(await balanceOf(slug)).toBe(0);
    });

    it('partial refunds add up, rounded down, and never exceed the grant', async () => {
      const { slug, sessionId, chargeId } = await grantedSession();
      // 1400 paid for 2000 credits: 100 -> floor(142.8) = 142; 300 -> 428 (+286); 1400 -> 2000 (+1572).
      const a = await refundQuietly(s, chargeId, 100);
      const b = await refundQuietly(s, chargeId, 200);
      const c = await refundQuietly(s, chargeId);
      await deliver(a);
      expect(await refundsOf(sessionId)).toEqual([-142]);
      await deliver(b);
      expect(await refundsOf(sessionId)).toEqual([-142, -286]);
      await deliver(c);
      await deliver(b);
      await deliver(a);
      expect(await refundsOf(sessionId)).toEqual([-142, -286, -1572]);
      expect(await balanceOf(slug)).toBe(0);
    });

    it('partial refunds out of order: the later cumulative step covers the earlier one', async () => {
      const { slug, sessionId, chargeId } = await grantedSession();
      const a = await refundQuietly(s, chargeId, 350);
      const b = await refundQuietly(s, chargeId, 350);
      expect((await deliver(b)).body.outcome).toBe('processed');
      expect((await deliver(a)).body.outcome).toBe('processed');
      expect(await refundsOf(sessionId)).toEqual([-1000]);
      expect(await balanceOf(slug)).toBe(1000);
    });

    it('a refund delivered before the payment event: the session is granted and the refund debited', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 2);
      const paid = await payQuietly(s, sessionId);
      const refund = await refundQuietly(s, paid.chargeId, 700);
      expect((await deliver(refund)).body.outcome).toBe('processed');
      expect((await deliver(paid.eventId)).body.outcome).toBe('processed');
      expect((await entriesOf(sessionId)).map((e) => [e.transactionType, e.amount])).toEqual([
        ['purchase', 2000],
        ['refund', -1000],
      ]);
      expect(await balanceOf(slug)).toBe(1000);
    });

    it('an async payment refunded before async_payment_succeeded arrives: granted once, debited once', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 1);
      const completed = await payQuietly(s, sessionId, true);
      const succeeded = (await s.control('POST', `/sessions/${sessionId}/async_succeeded`, { deliver: false }))
        .events[0].id;
      const refund = await refundQuietly(s, completed.chargeId);
      await deliver(completed.eventId);
      await deliver(refund);
      await deliver(succeeded);
      expect((await entriesOf(sessionId)).map((e) => [e.transactionType, e.amount])).toEqual([
        ['purchase', 1000],
        ['refund', -1000],
      ]);
      expect(await balanceOf(slug)).toBe(0);
    });

    it('credits already spent are not turned into a debt: the debit stops at zero and is logged', async () => {
      const { slug, sessionId, chargeId } = await grantedSession();
      const [org] = await s.db.select().from(organizations).where(eq(organizations.slug, slug));
      await spend(org.id, 1500);
      const refund = await refundQuietly(s, chargeId);
      expect((await deliver(refund)).status).toBe(200);
      expect(await refundsOf(sessionId)).toEqual([-500]);
      expect(await balanceOf(slug)).toBe(0);
      expect(
        s.logs.some((line) => line.includes('refund exceeds the spendable balance') && line.includes(sessionId)),
      ).toBe(true);
    });

    it('a refund takes back from its purchase’s own grant first, then in drawdown order', async () => {
      const { slug, sessionId, chargeId } = await grantedSession(); // 2000 credits
      const [org] = await s.db.select().from(organizations).where(eq(organizations.slug, slug));
      // A promotion that a debit would draw first (priority 10).
      const promo = await s.app.get(AdminAdjustments).adjust(org.id, 300, 'Promotion', undefined, { priority: 10 });
      const [purchaseGrant] = await s.db
        .select()
        .from(creditGrants)
        .where(eq(creditGrants.sourceRef, `purchase:${sessionId}`));
      // Half refunded: 1000 credits, all from the purchase's own grant.
      expect((await deliver(await refundQuietly(s, chargeId, 700))).status).toBe(200);
      const remainingOf = async (id: string) =>
        (await s.db.select().from(creditGrants).where(eq(creditGrants.id, id)))[0].remaining;
      expect([await remainingOf(purchaseGrant.id), await remainingOf(promo.grantId!)]).toEqual([1000, 300]);
      // The rest of the purchase spent; the full refund then owes 1000 more: none left in its
      // own grant, so it draws from the promotion, which it may (its credits are spendable).
      await spend(org.id, 1000, `purchase:${sessionId}`);
      expect((await deliver(await refundQuietly(s, chargeId))).status).toBe(200);
      expect(await refundsOf(sessionId)).toEqual([-1000, -300]);
      expect(await balanceOf(slug)).toBe(0);
      await expectLedgerConsistent(s.db);
    });

    it('a forgiven shortfall is not collected later from another purchase when the same charge is refunded further', async () => {
      const { slug, adminKey, sessionId, chargeId } = await grantedSession(); // 2000 credits for 1400
      const [org] = await s.db.select().from(organizations).where(eq(organizations.slug, slug));
      await spend(org.id, 1800);
      // Half refunded: 1000 owed, 200 left to debit, 800 forgiven.
      expect((await deliver(await refundQuietly(s, chargeId, 700))).status).toBe(200);
      expect(await refundsOf(sessionId)).toEqual([-200]);
      expect(await balanceOf(slug)).toBe(0);

      // The org buys again, then the first charge is refunded a further 10%: 1200 owed in all,
      // 1000 settled, so 200 more, not the 1000 that was forgiven.
      const second = await createSession(s, adminKey, slug, 1);
      await deliver((await payQuietly(s, second)).eventId);
      expect(await balanceOf(slug)).toBe(1000);
      expect((await deliver(await refundQuietly(s, chargeId, 140))).status).toBe(200);
      expect(await refundsOf(sessionId)).toEqual([-200, -200]);
      expect(await balanceOf(slug)).toBe(800);
      expect(await sessionRow(sessionId)).toMatchObject({ refundSettledCredits: 1200 });
    });
  });

  describe('a failure in the middle of the transaction', () => {
    beforeAll(async () => {
      // Raises on the first balance write only: a sequence is not rolled back with the transaction.
      await s.db.execute(sql.raw('create sequence test_fault_seq'));
      await s.db.execute(
        sql.raw(`
        create function test_fault_once() returns trigger language plpgsql as $$
        begin
          if nextval('test_fault_seq') = 1 then raise exception 'injected failure'; end if;
          return new;
        end $$`),
      );
      await s.db.execute(
        sql.raw(
          'create trigger test_fault after insert or update on credit_balances for each row execute function test_fault_once()',
        ),
      );
    });
    afterAll(async () => {
      for (const statement of [
        'drop trigger test_fault on credit_balances',
        'drop function test_fault_once()',
        'drop sequence test_fault_seq',
      ]) {
        await s.db.execute(sql.raw(statement));
      }
    });

    it('leaves no partial write, answers 500, and the retry grants once', async () => {
      const { slug, adminKey } = await freshOrg();
      const sessionId = await createSession(s, adminKey, slug, 1);
      const paid = await payQuietly(s, sessionId);
      const payload = await payloadOf(s, paid.eventId);

      const failed = await postWebhook(s, payload);
      expect(failed.status).toBe(500);
      expect(failed.body).toEqual({ code: 500, type: 'internal_error', detail: 'Internal server error', errors: null });
      expect(failed.text).not.toContain('injected');
      expect(await eventRow(paid.eventId)).toBeUndefined();
      expect(await entriesOf(sessionId)).toHaveLength(0);
      expect(await sessionRow(sessionId)).toMatchObject({
        status: 'open',
        fulfilledAt: null,
        stripePaymentIntentId: null,
      });
      expect(await balanceOf(slug)).toBe(0);

      const retried = await postWebhook(s, payload);
      expect(retried.body).toEqual({ received: true, outcome: 'processed' });
      expect((await postWebhook(s, payload)).body.outcome).toBe('duplicate');
      expect((await entriesOf(sessionId)).map((e) => e.amount)).toEqual([1000]);
      expect(await balanceOf(slug)).toBe(1000);
      expect(await rows(s.db, sql`select outcome from stripe_events where id = ${paid.eventId}`)).toEqual([
        { outcome: 'processed' },
      ]);
    });
  });

  it('acme holds exactly the one purchase accepted in the signature tests', async () => {
    const entries = await s.db.select().from(creditLedger).where(eq(creditLedger.orgId, orgId));
    expect(entries.map((e) => e.amount)).toEqual([1000]);
    expect(await balanceOf('acme')).toBe(1000);
  });
});
