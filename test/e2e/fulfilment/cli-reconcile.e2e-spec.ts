import { eq, sql } from 'drizzle-orm';
import Stripe from 'stripe';
import { checkoutSessions, creditBalances, creditLedger, organizations, users } from '@credits/database';
import { startStripeEmulator, type StripeEmulator } from '../../../apps/stripe-emulator/src';
import { cliSpecDatabase } from '../../cli/cli-database';
import { expectLedgerConsistent, rows } from './helpers';

/**
 * `stripe reconcile` and `credits audit` through `runCli`, against the emulator, on a
 * database of their own (PostgreSQL with TEST_DATABASE_URL, else an embedded PGlite in a
 * temporary DATA_DIR). Purchases are paid at the emulator with no webhook delivered.
 */
describe('CLI: stripe reconcile / credits audit', () => {
  let emulator: StripeEmulator;
  let stripe: Stripe;
  let orgId: string;
  let userId: string;

  const { cli, withDb } = cliSpecDatabase(() => ({
    STRIPE_SECRET_KEY: 'sk_test_cli',
    STRIPE_API_BASE: emulator.url,
    STRIPE_TIMEOUT_MS: '2000',
  }));
  /** A session as the API creates it (its metadata), paid at Stripe, its webhook never delivered. */
  const paidSession = async (bundles: number) => {
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      client_reference_id: orgId,
      line_items: [
        {
          quantity: bundles,
          price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: 'Credit bundle' } },
        },
      ],
      success_url: 'http://localhost/ok',
      cancel_url: 'http://localhost/cancel',
      metadata: { org_id: orgId, user_id: userId, bundles: String(bundles), credits: String(bundles * 1000) },
    });
    const res = await fetch(`${emulator.url}/_emulator/sessions/${session.id}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deliver: false }),
    });
    expect(res.status).toBe(200);
    return session;
  };

  beforeAll(async () => {
    emulator = await startStripeEmulator({ port: 0 });
    stripe = new Stripe('sk_test_cli', { host: '127.0.0.1', port: emulator.port, protocol: 'http' });
    expect((await cli('org', 'create', 'acme')).code).toBe(0);
    expect((await cli('user', 'create', 'admin@acme.test')).code).toBe(0);
    [orgId, userId] = await withDb(async (db) => [
      (await db.select().from(organizations).where(eq(organizations.slug, 'acme')))[0].id,
      (await db.select().from(users).where(eq(users.email, 'admin@acme.test')))[0].id,
    ]);
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it('grants a missed purchase once; --dry-run writes nothing; a second run grants nothing', async () => {
    // One session we recorded and one we never did (rebuilt from Stripe).
    const recorded = await paidSession(2);
    const unrecorded = await paidSession(1);
    await withDb((db) =>
      db.insert(checkoutSessions).values({ id: recorded.id, orgId, userId, bundles: 2, credits: 2000 }),
    );

    const dry = await cli('stripe', 'reconcile', '--since', '1h', '--dry-run');
    expect(dry.code).toBe(0);
    expect([...dry.out].sort()).toEqual(
      [`would grant\t${recorded.id}\t${orgId}\t2000`, `would grant\t${unrecorded.id}\t${orgId}\t1000`].sort(),
    );
    expect(dry.err).toContain('nothing written (--dry-run)');
    expect(await withDb((db) => db.select().from(creditLedger))).toEqual([]);

    const run = await cli('stripe', 'reconcile', '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.out.join('\n'));
    expect(report).toMatchObject({ dry_run: false, expired: [], failed: [] });
    expect(report.granted.map((g: { session_id: string }) => g.session_id).sort()).toEqual(
      [recorded.id, unrecorded.id].sort(),
    );

    const again = await cli('stripe', 'reconcile');
    expect(again).toMatchObject({ code: 0, out: [] });
    await withDb(async (db) => {
      const entries = await db.select().from(creditLedger).orderBy(creditLedger.seq);
      expect(entries.map((e) => [e.sourceRef, e.amount]).sort()).toEqual(
        [
          [`purchase:${recorded.id}`, 2000],
          [`purchase:${unrecorded.id}`, 1000],
        ].sort(),
      );
      await expectLedgerConsistent(db);
    });
  });

  it('audit: clean state exits 0; an injected drift is reported and exits 1', async () => {
    const clean = await cli('credits', 'audit');
    expect(clean).toMatchObject({ code: 0, out: [] });
    expect(clean.err).toContain('no drift');

    // Written straight into the database, as a bug or a hand edit would.
    await withDb((db) =>
      db
        .update(creditBalances)
        .set({ balance: sql`${creditBalances.balance} + 5` })
        .where(eq(creditBalances.orgId, orgId)),
    );
    await withDb((db) =>
      db.insert(creditLedger).values({
        orgId,
        amount: 0,
        balanceAfter: 3000,
        transactionType: 'purchase',
        description: 'a purchase no session paid',
        sourceRef: 'purchase:cs_test_forged',
      }),
    );
    const drift = await cli('credits', 'audit');
    expect(drift.code).toBe(1);
    expect(drift.out).toEqual([
      'balance\tacme\tbalance 3005\tledger sum 3000',
      'purchase\tacme\tpurchase:cs_test_forged\t0\t-\tno checkout session',
    ]);
    expect(drift.err).toContain('error: the ledger has drifted');

    const json = await cli('credits', 'audit', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out.join('\n'))).toMatchObject({
      clean: false,
      balances: [{ slug: 'acme', balance: 3005, ledger_sum: 3000 }],
      purchases: [{ source_ref: 'purchase:cs_test_forged', problem: 'no checkout session' }],
    });
  });

  it('audit: lists refills an operator must look at (in flight for over a day, paid but not granted)', async () => {
    const [stuck, ungranted] = await withDb(async (db) => {
      const insert = (status: string, paymentIntent: string | null, failureCode: string | null, age: string) =>
        rows<{ id: string }>(
          db,
          sql`insert into auto_refills (org_id, status, bundles, credits, amount, currency, stripe_payment_intent_id, failure_code, created_at)
              values (${orgId}::uuid, ${status}, 1, 1000, 1000, 'usd', ${paymentIntent}, ${failureCode}, now() - ${age}::interval)
              returning id`,
        );
      return [
        (await insert('pending', null, null, '2 days'))[0].id,
        (await insert('failed', 'pi_test_paid', 'grant_failed', '1 hour'))[0].id,
        // Not this one: a declined refill is settled, whatever its age.
        await insert('failed', 'pi_test_declined', 'card_declined', '3 days'),
      ];
    });
    const res = await cli('credits', 'audit');
    expect(res.code).toBe(1);
    expect(res.out.filter((line) => line.startsWith('refill\t'))).toEqual([
      `refill\tacme\t${stuck}\tpending\t-\tin flight for more than a day`,
      `refill\tacme\t${ungranted}\tfailed\tpi_test_paid\tpaid at Stripe, credits not granted`,
    ]);
  });
});
