import { sql } from 'drizzle-orm';
import { AutoRefillPayments, ReconciliationService } from '@credits/billing';
import { rows } from '@credits/database';
import { bearer, SPEND } from '../../support/auth';
import { Stack, startStack } from '../../support/stack';
import { request } from '../../support/test-app';
import { eventJson, expectLedgerConsistent, postWebhook } from '../fulfilment/helpers';
import {
  buySavingCard,
  enable,
  entries,
  eventTypes,
  newOrg,
  refills,
  settings,
  settingsPath,
  spend,
  swapCard,
  until,
} from './helpers';

const CREDITS = 1000; // CREDITS_PER_BUNDLE's default: one bundle
const THRESHOLD = 500;

/** Auto-refill end to end: checkout saves the card, a debit below the threshold charges it off-session. */
describe('auto-refill', () => {
  let s: Stack;

  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s?.close());
  afterEach(() => expectLedgerConsistent(s.db));

  it('checkout with save_payment_method keeps the card (default at Stripe) and the purchase gets its receipt', async () => {
    const { key, orgId } = await newOrg(s, 'saver');
    await buySavingCard(s, key, 'saver');
    const shown = await settings(s, key, 'saver');
    expect(shown.payment_method).toEqual({
      brand: 'visa',
      last4: '4242',
      exp_month: expect.any(Number),
      exp_year: expect.any(Number),
    });
    // The card we keep becomes the customer's default at Stripe too, after the grant (a job).
    const [saved] = await rows<{ id: string }>(
      s.db,
      sql`select payment_method_id as id from auto_refill_settings where org_id = ${orgId}::uuid`,
    );
    const customer = await customerOf(orgId);
    await until('the card made the default at Stripe', async () => {
      const res = await request(s.emulator.url, 'GET', `/v1/customers/${customer}`, {
        headers: { authorization: 'Bearer sk_test_stack' },
      });
      return res.body.invoice_settings.default_payment_method === saved.id;
    });
    await until('the receipt on the purchase', async () =>
      (await entries(s, orgId, 'purchase')).every((e) => e.receipt_url !== null),
    );
    expect((await entries(s, orgId, 'purchase'))[0].receipt_url).toMatch(/^https?:\/\//);
  });

  describe('the saved card is known as soon as the purchase is', () => {
    const CARD = { brand: 'visa', last4: '4242', exp_month: expect.any(Number), exp_year: expect.any(Number) };

    async function checkoutSavingCard(key: string, slug: string): Promise<string> {
      const res = await s.request('POST', `/api/v1/org/${slug}/credits/checkout`, {
        headers: bearer(key),
        body: { success_url: 'http://localhost/ok', cancel_url: 'http://localhost/no', save_payment_method: true },
      });
      expect(res.status).toBe(200);
      return res.body.session_id;
    }

    async function expectCardUsable(key: string, slug: string): Promise<void> {
      expect((await settings(s, key, slug)).payment_method).toEqual(CARD);
      const res = await s.request('PUT', settingsPath(slug), {
        headers: bearer(key),
        body: { enabled: true, threshold: 100, quantity: 1 },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ enabled: true, payment_method: CARD });
    }

    it('the success page: once it answers fulfilled, auto-refill shows the card and can be turned on', async () => {
      const { key } = await newOrg(s, 'landing-card');
      const sessionId = await checkoutSavingCard(key, 'landing-card');
      await s.control('POST', `/sessions/${sessionId}/pay`, { payment_method: 'pm_card_visa', deliver: false });
      const status = await s.request('GET', `/api/v1/org/landing-card/credits/checkout/${sessionId}`, {
        headers: bearer(key),
      });
      expect(status.body).toMatchObject({ fulfilled: true });
      await expectCardUsable(key, 'landing-card');
    });

    it('the webhook: once the balance shows the purchase, auto-refill shows the card and can be turned on', async () => {
      const { key, orgId } = await newOrg(s, 'webhook-card');
      const sessionId = await checkoutSavingCard(key, 'webhook-card');
      await s.control('POST', `/sessions/${sessionId}/pay`, { payment_method: 'pm_card_visa' });
      await until('the purchase granted', async () => (await entries(s, orgId, 'purchase')).length === 1);
      const credits = await s.request('GET', '/api/v1/org/webhook-card/credits', { headers: bearer(key) });
      expect(credits.body).toMatchObject({ balance: CREDITS });
      await expectCardUsable(key, 'webhook-card');
    });
  });

  it('a checkout without the flag saves nothing', async () => {
    const { key, orgId } = await newOrg(s, 'nosave');
    const res = await s.request('POST', '/api/v1/org/nosave/credits/checkout', {
      headers: bearer(key),
      body: { success_url: 'http://localhost/ok', cancel_url: 'http://localhost/no' },
    });
    await s.control('POST', `/sessions/${res.body.session_id}/pay`, { payment_method: 'pm_card_visa' });
    await until('the purchase granted', async () => (await entries(s, orgId, 'purchase')).length === 1);
    // The purchase gets its receipt and saved no card.
    await until('the receipt on the purchase', async () =>
      (await entries(s, orgId, 'purchase')).every((e) => e.receipt_url !== null),
    );
    expect((await settings(s, key, 'nosave')).payment_method).toBeNull();
  });

  it('a debit below the threshold starts exactly one refill, granted once with its receipt; the monthly limit stops the next', async () => {
    const { key, orgId } = await newOrg(s, 'refill');
    await buySavingCard(s, key, 'refill');
    await enable(s, key, 'refill', { threshold: THRESHOLD, monthly_limit: 1 });
    expect(await refills(s, orgId)).toEqual([]);

    await spend(s, orgId, 300); // 700 left: above the threshold
    await spend(s, orgId, 300); // 400 left: below
    await spend(s, orgId, 100); // still below: the refill in flight is the only one
    await until('the refill granted', async () => (await entries(s, orgId, 'auto_refill')).length === 1);
    const [refill] = await refills(s, orgId);
    await until('the refill succeeded', async () => (await refills(s, orgId))[0].status === 'succeeded');
    expect(await refills(s, orgId)).toEqual([
      expect.objectContaining({ id: refill.id, status: 'succeeded', credits: CREDITS }),
    ]);
    const [granted] = await entries(s, orgId, 'auto_refill');
    const paymentIntent = (await refills(s, orgId))[0].stripe_payment_intent_id;
    expect(granted).toEqual({
      amount: CREDITS,
      source_ref: `auto_refill:${paymentIntent}`,
      receipt_url: expect.stringMatching(/^https?:\/\//),
    });
    // payment_intent.succeeded arrives too (the emulator delivers it): still one grant.
    await until(
      'the webhook seen',
      async () => (await stripeEventOutcomes('payment_intent.succeeded', paymentIntent!)).length > 0,
    );
    expect(await entries(s, orgId, 'auto_refill')).toHaveLength(1);
    const balance = (await s.request('GET', '/api/v1/org/refill/credits', { headers: bearer(key) })).body;
    expect(balance).toMatchObject({ balance: CREDITS - 700 + CREDITS, auto_refill_enabled: true });
    expect(await eventTypes(s, orgId)).toContain('auto_refill.succeeded');
    expect((await settings(s, key, 'refill')).refills_this_month).toBe(1);

    // Below the threshold again, but this month's one refill is spent.
    await spend(s, orgId, 1000);
    // No wait needed: a refill starts (its row written) in the debit's own transaction, which
    // has committed by the time the debit answers.
    expect(await refills(s, orgId)).toHaveLength(1);
    expect(await entries(s, orgId, 'auto_refill')).toHaveLength(1);
  });

  // Cards that decline every off-session charge; the first three cannot even be saved at
  // checkout, so they replace a saved card as one swapped at Stripe would.
  it.each([
    ['pm_card_chargeDeclined', 'swap', 'card_declined'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'swap', 'insufficient_funds'],
    ['pm_card_chargeDeclinedExpiredCard', 'swap', 'expired_card'],
    ['pm_card_authenticationRequired', 'checkout', 'authentication_required'],
    ['pm_card_chargeCustomerFail', 'checkout', 'card_declined'],
  ])('%s: the refill fails, auto-refill turns off with last_failure, no credits, no 5xx', async (card, how, code) => {
    const slug = `decline-${card.slice(8).toLowerCase()}`;
    const { key, orgId } = await newOrg(s, slug);
    await buySavingCard(s, key, slug, how === 'checkout' ? card : 'pm_card_visa');
    if (how === 'swap') await swapCard(s, orgId, card);
    await enable(s, key, slug, { threshold: THRESHOLD });
    await spend(s, orgId, 600);

    await until('the refill failed', async () => (await refills(s, orgId))[0]?.status === 'failed');
    const shown = await settings(s, key, slug);
    expect(shown.enabled).toBe(false);
    expect(shown.last_failure).toEqual({ at: expect.any(String), code, message: expect.any(String) });
    expect(shown.refills_this_month).toBe(0);
    expect(await entries(s, orgId, 'auto_refill')).toEqual([]);
    expect((await s.request('GET', `/api/v1/org/${slug}/credits`, { headers: bearer(key) })).body).toMatchObject({
      balance: CREDITS - 600,
      auto_refill_enabled: false,
    });
    expect(await eventTypes(s, orgId)).toContain('auto_refill.failed');
    // The payment_failed event (when Stripe sends one) is handled, not answered 5xx.
    const paymentIntent = (await refills(s, orgId))[0].stripe_payment_intent_id;
    if (code !== 'authentication_required') {
      await until(
        'payment_failed seen',
        async () => (await stripeEventOutcomes('payment_intent.payment_failed', paymentIntent!)).length > 0,
      );
      expect(await stripeEventOutcomes('payment_intent.payment_failed', paymentIntent!)).toEqual(['processed']);
    }
    // Never retried by itself: further debits start nothing while it is off.
    await spend(s, orgId, 100);
    expect(await refills(s, orgId)).toHaveLength(1);
    expect((await eventTypes(s, orgId)).filter((t) => t === 'auto_refill.failed')).toHaveLength(1);

    // Enabling again forgets the failure (and, still below the threshold, tries once more).
    const again = await enable(s, key, slug, { threshold: 0 });
    expect(again).toMatchObject({ enabled: true, last_failure: null });
  });

  it('a processing payment is granted once by payment_intent.succeeded, however often and in whatever order it comes', async () => {
    const { key, orgId } = await newOrg(s, 'slowpay');
    await buySavingCard(s, key, 'slowpay');
    await swapCard(s, orgId, 'pm_card_processing');
    await enable(s, key, 'slowpay', { threshold: THRESHOLD });
    await spend(s, orgId, 600);
    await until('the refill processing', async () => (await refills(s, orgId))[0]?.status === 'processing');
    const [refill] = await refills(s, orgId);
    const paymentIntent = refill.stripe_payment_intent_id!;

    const settled = await s.control('POST', `/payment_intents/${paymentIntent}/succeed`, { deliver: false });
    const event = settled.events.find((e: { type: string }) => e.type === 'payment_intent.succeeded');
    const payload = (await s.control('GET', `/events/${event.id}`)).payload as string;
    // The same event three times at once, and the job run again: one grant.
    const answers = await Promise.all([postWebhook(s, payload), postWebhook(s, payload), postWebhook(s, payload)]);
    expect(answers.map((a) => a.status).every((status) => status === 200)).toBe(true);
    await s.app.get(AutoRefillPayments).charge(refill.id);
    // A second event about the same payment (another id), as a resend would be.
    const object = JSON.parse(payload).data.object;
    expect((await postWebhook(s, eventJson('payment_intent.succeeded', object))).status).toBe(200);

    expect(await entries(s, orgId, 'auto_refill')).toEqual([
      expect.objectContaining({ amount: CREDITS, source_ref: `auto_refill:${paymentIntent}` }),
    ]);
    expect((await refills(s, orgId))[0].status).toBe('succeeded');
    expect((await eventTypes(s, orgId)).filter((t) => t === 'auto_refill.succeeded')).toHaveLength(1);
    // The receipt, which the event does not carry, is filled in by a job: the same entry.
    await until('the receipt', async () => (await entries(s, orgId, 'auto_refill'))[0].receipt_url !== null);
    expect(await entries(s, orgId, 'auto_refill')).toHaveLength(1);
  });

  it('payment_intent.succeeded before the charge answer is recorded: granted once, the answer finds it done', async () => {
    const { key, orgId } = await newOrg(s, 'eventfirst');
    await buySavingCard(s, key, 'eventfirst');
    await swapCard(s, orgId, 'pm_card_processing');
    await enable(s, key, 'eventfirst', { threshold: THRESHOLD });
    await spend(s, orgId, 600);
    await until('the refill processing', async () => (await refills(s, orgId))[0]?.status === 'processing');
    const [refill] = await refills(s, orgId);
    // The event names the refill in its metadata, so it applies whether or not our row has the intent yet.
    await s.db.execute(
      sql`update auto_refills set status = 'pending', stripe_payment_intent_id = null where id = ${refill.id}::uuid`,
    );
    await s.control('POST', `/payment_intents/${refill.stripe_payment_intent_id}/succeed`, {});
    await until('granted by the event', async () => (await entries(s, orgId, 'auto_refill')).length === 1);
    // Now the job runs again: Stripe answers with the same (now succeeded) intent; nothing more.
    await s.app.get(AutoRefillPayments).charge(refill.id);
    expect(await entries(s, orgId, 'auto_refill')).toHaveLength(1);
    expect((await refills(s, orgId))[0]).toMatchObject({
      status: 'succeeded',
      stripe_payment_intent_id: refill.stripe_payment_intent_id,
    });
  });

  it('enabling while already below the threshold starts a refill at once', async () => {
    const { key, orgId } = await newOrg(s, 'latecomer');
    await buySavingCard(s, key, 'latecomer');
    await spend(s, orgId, 800); // off: nothing starts
    expect(await refills(s, orgId)).toEqual([]);
    await enable(s, key, 'latecomer', { threshold: THRESHOLD });
    await until('the refill granted', async () => (await entries(s, orgId, 'auto_refill')).length === 1);
    expect(await refills(s, orgId)).toEqual([expect.objectContaining({ status: 'succeeded', credits: CREDITS })]);
  });

  it('counts active holds against the threshold, but not the hold being captured', async () => {
    const { key, orgId } = await newOrg(s, 'holder');
    await buySavingCard(s, key, 'holder'); // 1000 credits
    await enable(s, key, 'holder', { threshold: THRESHOLD });
    const holds = `/api/v1/org/holder/credits/holds`;
    // Holds are the host's: a key that may spend.
    const host = await s.member('holder', 'host@holder.test', 'member', SPEND);
    const hold = async (amount: number): Promise<string> => {
      const res = await s.request('POST', holds, {
        headers: bearer(host, { 'idempotency-key': `hold-${amount}-${Date.now()}` }),
        body: { amount },
      });
      expect(res.status).toBe(201);
      return res.body.id;
    };
    // Capturing 300 of 1000 leaves 700 available: no refill (the captured hold is spent, not held).
    const first = await hold(300);
    expect((await s.request('POST', `${holds}/${first}/capture`, { headers: bearer(host) })).status).toBe(200);
    // The capture's transaction would have started it: nothing to wait for.
    expect(await refills(s, orgId)).toEqual([]);
    // 300 more held: a debit of 1 leaves 699 in the balance but 399 available, below 500.
    await hold(300);
    await spend(s, orgId, 1);
    await until('the refill granted', async () => (await entries(s, orgId, 'auto_refill')).length === 1);
    expect(await refills(s, orgId)).toHaveLength(1);
  });

  it('reconciliation grants a refill whose payment_intent.succeeded never arrived, once', async () => {
    const { key, orgId } = await newOrg(s, 'lostevent');
    await buySavingCard(s, key, 'lostevent');
    await swapCard(s, orgId, 'pm_card_processing');
    await enable(s, key, 'lostevent', { threshold: THRESHOLD });
    await spend(s, orgId, 600);
    await until('the refill processing', async () => (await refills(s, orgId))[0]?.status === 'processing');
    const [refill] = await refills(s, orgId);
    // Paid at Stripe, but the event is lost.
    await s.control('POST', `/payment_intents/${refill.stripe_payment_intent_id}/succeed`, { deliver: false });
    const reconciliation = s.app.get(ReconciliationService);
    const since = new Date(Date.now() - 3600_000);

    const dry = await reconciliation.reconcile({ since, dryRun: true });
    expect(dry.refills).toEqual({ granted: [refill.id], failed: [], requeued: [] });
    expect(await entries(s, orgId, 'auto_refill')).toEqual([]);
    expect((await reconciliation.reconcile({ since })).refills.granted).toEqual([refill.id]);
    expect((await reconciliation.reconcile({ since })).refills.granted).toEqual([]);
    expect(await entries(s, orgId, 'auto_refill')).toEqual([
      {
        amount: CREDITS,
        source_ref: `auto_refill:${refill.stripe_payment_intent_id}`,
        receipt_url: expect.any(String),
      },
    ]);
    expect((await refills(s, orgId))[0].status).toBe('succeeded');
  });

  it('charge.refunded for a refill charge debits the refunded share, once', async () => {
    const { key, orgId } = await newOrg(s, 'refunder');
    await buySavingCard(s, key, 'refunder');
    await enable(s, key, 'refunder', { threshold: THRESHOLD, monthly_limit: 1 });
    await spend(s, orgId, 600);
    await until('the refill succeeded', async () => (await refills(s, orgId))[0]?.status === 'succeeded');
    const paymentIntent = (await refills(s, orgId))[0].stripe_payment_intent_id!;
    const { charge } = await s.control('GET', `/payment_intents/${paymentIntent}`);
    await s.control('POST', `/charges/${charge.id}/refund`, { amount: Math.floor(charge.amount / 2) });
    await until('the refund debited', async () => (await entries(s, orgId, 'refund')).length === 1);
    expect((await entries(s, orgId, 'refund'))[0].amount).toBe(-CREDITS / 2);
    await s.control('POST', `/charges/${charge.id}/refund`, {});
    await until('the rest debited', async () => (await entries(s, orgId, 'refund')).length === 2);
    expect((await entries(s, orgId, 'refund')).map((e) => e.amount)).toEqual([-CREDITS / 2, -CREDITS / 2]);
    expect(await stripeEventOutcomes('charge.refunded')).not.toContain('failed_permanently');
  });

  async function customerOf(orgId: string): Promise<string> {
    const [row] = await rows<{ id: string }>(
      s.db,
      sql`select stripe_customer_id as id from organizations where id = ${orgId}::uuid`,
    );
    return row.id;
  }

  /** Outcomes of the Stripe events of a type we recorded (about one payment intent, when given). */
  async function stripeEventOutcomes(type: string, paymentIntent?: string): Promise<string[]> {
    const all = await rows<{ id: string; outcome: string }>(
      s.db,
      sql`select id, outcome from stripe_events where type = ${type}`,
    );
    if (!paymentIntent) return all.map((e) => e.outcome);
    const ours: string[] = [];
    for (const e of all) {
      const record = await s.control('GET', `/events/${e.id}`).catch(() => null);
      if (record && JSON.parse(record.payload).data.object.id === paymentIntent) ours.push(e.outcome);
    }
    return ours;
  }
});
