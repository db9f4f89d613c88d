import { sql } from 'drizzle-orm';
import { AutoRefillPayments } from '@credits/billing';
import { rows } from '@credits/database';
import { bearer } from '../../support/auth';
import { Stack, startStack } from '../../support/stack';
import { createSession, expectLedgerConsistent } from '../fulfilment/helpers';
import { buySavingCard, enable, entries, newOrg, refills, spend, swapCard, until } from './helpers';

const CREDITS = 1000; // CREDITS_PER_BUNDLE's default: one bundle

/** Refunds of purchases and of refills, where auto-refill is on: what they take back, and what they never start. */
describe('refunds and auto-refill', () => {
  let s: Stack;

  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s?.close());
  afterEach(() => expectLedgerConsistent(s.db));

  async function balanceOf(key: string, slug: string): Promise<number> {
    const res = await s.request('GET', `/api/v1/org/${slug}/credits`, { headers: bearer(key) });
    expect(res.status).toBe(200);
    return res.body.balance;
  }

  /** Delivers an emulator event to the webhook now; answers what we recorded of it once it was answered. */
  async function deliver(eventId: string): Promise<string | undefined> {
    const [result] = await s.control('POST', '/events/deliver', { ids: [eventId] });
    expect(result.attempt.status).toBe(200);
    const [row] = await rows<{ outcome: string }>(s.db, sql`select outcome from stripe_events where id = ${eventId}`);
    return row?.outcome;
  }

  /** Refunds `amount` of a charge at Stripe (default: what is left), its event not delivered yet; answers the event. */
  async function refundQuietly(chargeId: string, amount?: number): Promise<string> {
    const { events } = await s.control('POST', `/charges/${chargeId}/refund`, { amount, deliver: false });
    return events[0].id;
  }

  /** Refunds `amount` of a charge and delivers its `charge.refunded`; answers what we recorded of the event. */
  async function refund(chargeId: string, amount?: number): Promise<string | undefined> {
    return deliver(await refundQuietly(chargeId, amount));
  }

  /** One bundle bought through Checkout and paid (its webhook delivered), without saving the card. */
  async function buy(key: string, slug: string, orgId: string): Promise<string> {
    const before = (await entries(s, orgId, 'purchase')).length;
    const sessionId = await createSession(s, key, slug);
    await s.control('POST', `/sessions/${sessionId}/pay`, {});
    await until('the purchase granted', async () => (await entries(s, orgId, 'purchase')).length === before + 1);
    return sessionId;
  }

  /** An org whose one refill (monthly limit `limit`) succeeded: 1,000 bought, 600 spent, 1,000 refilled. */
  async function refilled(slug: string, limit: number) {
    const { key, orgId } = await newOrg(s, slug);
    await buySavingCard(s, key, slug);
    await enable(s, key, slug, { threshold: 500, monthly_limit: limit });
    await spend(s, orgId, 600);
    await until('the refill succeeded', async () => (await refills(s, orgId))[0]?.status === 'succeeded');
    const paymentIntent = (await refills(s, orgId))[0].stripe_payment_intent_id!;
    const { charge } = await s.control('GET', `/payment_intents/${paymentIntent}`);
    return { key, orgId, chargeId: charge.id as string, paymentIntent };
  }

  describe('only spending starts a refill (monthly limit 5)', () => {
    it('refunding half of a 2,000-credit purchase leaves 1,000, below the threshold of 1,500: no refill', async () => {
      const { key, orgId } = await newOrg(s, 'refund-purchase');
      const sessionId = await buySavingCard(s, key, 'refund-purchase', 'pm_card_visa', 2);
      await enable(s, key, 'refund-purchase', { threshold: 1500, monthly_limit: 5 });
      const { charge } = await s.control('GET', `/sessions/${sessionId}`);

      expect(await refund(charge.id, charge.amount / 2)).toBe('processed');
      expect(await balanceOf(key, 'refund-purchase')).toBe(1000);
      // A refill starts in the transaction of the write that crosses the threshold, which has
      // committed by the time the webhook is answered: nothing to wait for.
      expect(await refills(s, orgId)).toEqual([]);

      // Spending below the threshold still does.
      await spend(s, orgId, 1);
      expect(await refills(s, orgId)).toHaveLength(1);
    });

    it("refunding a refill's charge takes its credits back and starts no other refill", async () => {
      const { key, orgId, chargeId } = await refilled('refund-refill', 5);
      expect(await balanceOf(key, 'refund-refill')).toBe(1400);

      expect(await refund(chargeId)).toBe('processed');
      expect(await balanceOf(key, 'refund-refill')).toBe(400);
      expect(await refills(s, orgId)).toHaveLength(1);
    });
  });

  it.each([['payment_intent.succeeded'], ['the charge answer']])(
    "a refill's refund that arrives before its payment is recorded is matched through the PaymentIntent; %s after it grants nothing more",
    async (later) => {
      const slug = later === 'the charge answer' ? 'refund-first-answer' : 'refund-first-event';
      const { key, orgId } = await newOrg(s, slug);
      await buySavingCard(s, key, slug);
      await swapCard(s, orgId, 'pm_card_processing');
      await enable(s, key, slug, { threshold: 500, monthly_limit: 5 });
      await spend(s, orgId, 600);
      await until('the refill processing', async () => (await refills(s, orgId))[0]?.status === 'processing');
      const [refill] = await refills(s, orgId);
      const paymentIntent = refill.stripe_payment_intent_id!;
      // As if the charge's answer had not been recorded yet: our row does not know the intent.
      await s.db.execute(
        sql`update auto_refills set status = 'pending', stripe_payment_intent_id = null where id = ${refill.id}::uuid`,
      );
      const settled = await s.control('POST', `/payment_intents/${paymentIntent}/succeed`, { deliver: false });
      const succeeded = settled.events.find((e: { type: string }) => e.type === 'payment_intent.succeeded').id;

      // The whole charge refunded, and that event first.
      expect(await refund(settled.charge.id)).toBe('processed');
      expect(await entries(s, orgId, 'auto_refill')).toEqual([
        expect.objectContaining({ amount: CREDITS, source_ref: `auto_refill:${paymentIntent}` }),
      ]);
      expect((await entries(s, orgId, 'refund')).map((e) => e.amount)).toEqual([-CREDITS]);

      if (later === 'payment_intent.succeeded') expect(await deliver(succeeded)).toBe('processed');
      else await s.app.get(AutoRefillPayments).charge(refill.id);
      expect(await entries(s, orgId, 'auto_refill')).toHaveLength(1);
      expect(await entries(s, orgId, 'refund')).toHaveLength(1);
      expect(await refills(s, orgId)).toEqual([
        expect.objectContaining({ id: refill.id, status: 'succeeded', stripe_payment_intent_id: paymentIntent }),
      ]);
      expect(await balanceOf(key, slug)).toBe(400);
    },
  );

  // 100 credits left when the first refund comes: it takes those 100 and forgives the rest of
  // its share. A purchase then adds 1,000; the second refund may take only its own share.
  it.each([
    ['purchase', 'in order', 500],
    ['purchase', 'newest first', 1000],
    ['refill', 'in order', 500],
    ['refill', 'newest first', 1000],
  ])(
    'a forgiven shortfall of a %s refund is never collected later from another purchase (refund events %s)',
    async (what, order, balance) => {
      const slug = `forgive-${what}-${order === 'in order' ? 'ordered' : 'reversed'}`;
      let key: string;
      let orgId: string;
      let chargeId: string;
      if (what === 'refill') {
        // Monthly limit 1: spending below the threshold again starts nothing.
        ({ key, orgId, chargeId } = await refilled(slug, 1));
        await spend(s, orgId, 1300);
      } else {
        ({ key, orgId } = await newOrg(s, slug));
        const sessionId = await buy(key, slug, orgId);
        chargeId = (await s.control('GET', `/sessions/${sessionId}`)).charge.id;
        await spend(s, orgId, 900);
      }
      expect(await balanceOf(key, slug)).toBe(100);
      const half = await refundQuietly(chargeId, 500);
      const rest = await refundQuietly(chargeId);
      const [first, second] = order === 'in order' ? [half, rest] : [rest, half];

      expect(await deliver(first)).toBe('processed');
      expect(await balanceOf(key, slug)).toBe(0);
      await buy(key, slug, orgId);
      expect(await deliver(second)).toBe('processed');
      expect(await balanceOf(key, slug)).toBe(balance);
    },
  );
});
