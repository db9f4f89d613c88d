import { sql } from 'drizzle-orm';
import { AutoRefillPayments, LedgerAuditService, ReconciliationService } from '@credits/billing';
import { rows } from '@credits/database';
import { Stack, startStack } from '../../support/stack';
import { request } from '../../support/test-app';
import { expectLedgerConsistent } from '../fulfilment/helpers';
import { buySavingCard, enable, entries, eventTypes, newOrg, refills, settings, spend, until } from './helpers';

const CREDITS = 1000; // CREDITS_PER_BUNDLE's default: one bundle

/**
 * Refills left in flight: a charge whose answer never came back, a grant that cannot be
 * written. A refill is charged at most once, and ends where an operator sees it.
 */
describe('refills left in flight', () => {
  let s: Stack;

  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s?.close());
  afterEach(() => expectLedgerConsistent(s.db));

  /** The PaymentIntents Stripe holds for the org's refills (named in their metadata). */
  async function refillPaymentIntents(orgId: string): Promise<{ id: string; status: string }[]> {
    const [org] = await rows<{ customer: string }>(
      s.db,
      sql`select stripe_customer_id as customer from organizations where id = ${orgId}::uuid`,
    );
    const res = await request(s.emulator.url, 'GET', `/v1/payment_intents?customer=${org.customer}&limit=100`, {
      headers: { authorization: 'Bearer sk_test_stack' },
    });
    expect(res.status).toBe(200);
    return res.body.data.filter((pi: { metadata: Record<string, string> }) => pi.metadata.auto_refill_id);
  }

  /** The state of the refill's charge job in the queue (`retry`: an attempt failed, another is due). */
  async function chargeJobState(refillId: string): Promise<string | undefined> {
    const [job] = await rows<{ state: string }>(
      s.db,
      sql`select state::text as state from pgboss.job where name = 'auto-refill-charge' and data->>'refillId' = ${refillId}`,
    );
    return job?.state;
  }

  /** An org with a card and auto-refill on, whose webhooks are no longer delivered (only the job's answers count). */
  async function quietOrg(slug: string) {
    const { key, orgId } = await newOrg(s, slug);
    await buySavingCard(s, key, slug);
    await enable(s, key, slug, { threshold: 500, monthly_limit: 5 });
    await s.control('POST', '/config', { webhook_url: null });
    return { key, orgId };
  }

  afterEach(() => s.control('POST', '/config', { webhook_url: `${s.url}/api/v1/stripe/webhook` }));

  it("a refill whose charge answer was lost, charged again past Stripe's 24 h idempotency window, is found at Stripe, not charged twice", async () => {
    const { orgId } = await quietOrg('lost-answer');
    // Stripe charges the card, but the answer never reaches us, nor does any retry's replay.
    const fault = await s.control('POST', '/faults', {
      path: '/v1/payment_intents',
      method: 'POST',
      drop_after_processing: true,
    });
    await spend(s, orgId, 600);
    const [refill] = await refills(s, orgId);
    await until('the first charge attempt failed', async () => (await chargeJobState(refill.id)) === 'retry');
    const charged = await refillPaymentIntents(orgId);
    expect(charged).toEqual([expect.objectContaining({ status: 'succeeded' })]);
    expect((await refills(s, orgId))[0]).toMatchObject({ status: 'pending', stripe_payment_intent_id: null });

    // A day later: Stripe has forgotten the idempotency key; the job runs again (its retry, or
    // reconciliation sending it again). The refill is aged first, so a retry of the job that
    // comes meanwhile runs a day late too.
    await s.db.execute(
      sql`update auto_refills set created_at = created_at - interval '25 hours' where id = ${refill.id}::uuid`,
    );
    await s.control('DELETE', '/idempotency_keys');
    await s.control('DELETE', `/faults/${fault.id}`);
    await s.app.get(AutoRefillPayments).charge(refill.id);

    expect(await refillPaymentIntents(orgId)).toEqual([expect.objectContaining({ id: charged[0].id })]);
    expect(await entries(s, orgId, 'auto_refill')).toEqual([
      expect.objectContaining({ amount: CREDITS, source_ref: `auto_refill:${charged[0].id}` }),
    ]);
    expect((await refills(s, orgId))[0]).toMatchObject({
      status: 'succeeded',
      stripe_payment_intent_id: charged[0].id,
    });
  });

  it('a refill whose grant keeps failing ends failed where an operator sees it; reconciliation grants it once fixed', async () => {
    const { key, orgId } = await quietOrg('grant-fails');
    // Whatever the cause, the refill's credits cannot be written.
    await s.db.execute(
      sql.raw(`create function refuse_refill_grant() returns trigger language plpgsql as $$
        begin
          if new.transaction_type = 'auto_refill' then raise exception 'refill grants refused'; end if;
          return new;
        end $$`),
    );
    await s.db.execute(
      sql.raw(`create trigger refuse_refill_grant before insert on credit_ledger
        for each row execute function refuse_refill_grant()`),
    );
    try {
      await spend(s, orgId, 600);
      const [refill] = await refills(s, orgId);
      await until('the first charge attempt failed', async () => (await chargeJobState(refill.id)) === 'retry');
      const [charged] = await refillPaymentIntents(orgId);
      expect(charged.status).toBe('succeeded');

      // The job's last attempt fails too.
      await expect(s.app.get(AutoRefillPayments).charge(refill.id, true)).rejects.toThrow();
      expect((await refills(s, orgId))[0]).toMatchObject({
        status: 'failed',
        failure_code: 'grant_failed',
        stripe_payment_intent_id: charged.id,
      });
      // No further charge while nobody has looked: auto-refill is off, the host is told why.
      const shown = await settings(s, key, 'grant-fails');
      expect(shown).toMatchObject({ enabled: false, last_failure: { code: 'grant_failed' } });
      expect(await eventTypes(s, orgId)).toContain('auto_refill.failed');
      const audit = await s.app.get(LedgerAuditService).audit();
      expect(audit.clean).toBe(false);
      expect(audit.refills).toEqual([
        expect.objectContaining({ refillId: refill.id, slug: 'grant-fails', paymentIntent: charged.id }),
      ]);
    } finally {
      await s.db.execute(sql`drop trigger refuse_refill_grant on credit_ledger`);
      await s.db.execute(sql`drop function refuse_refill_grant()`);
    }

    // Once the cause is fixed, reconciliation grants what was paid, once.
    const [refill] = await refills(s, orgId);
    const reconciliation = s.app.get(ReconciliationService);
    const since = new Date(Date.now() - 3600_000);
    expect((await reconciliation.reconcile({ since })).refills.granted).toEqual([refill.id]);
    expect((await reconciliation.reconcile({ since })).refills.granted).toEqual([]);
    expect(await entries(s, orgId, 'auto_refill')).toEqual([
      expect.objectContaining({ amount: CREDITS, source_ref: `auto_refill:${refill.stripe_payment_intent_id}` }),
    ]);
    expect((await refills(s, orgId))[0].status).toBe('succeeded');
    expect((await s.app.get(LedgerAuditService).audit()).refills).toEqual([]);
  });
});
