import { sql } from 'drizzle-orm';
import { rows } from '@credits/database';
import { bearer } from '../../support/auth';
import { Stack, startStack } from '../../support/stack';
import { expectLedgerConsistent } from '../fulfilment/helpers';
import { buySavingCard, enable, newOrg, refills, spend, until } from './helpers';

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
});
