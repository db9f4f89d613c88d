import { eq, sql } from 'drizzle-orm';
import { organizations, rows } from '@credits/database';
import { startStripeEmulator, StripeEmulator } from '../../../apps/stripe-emulator/src';
import { bearer } from '../../support/auth';
import { Instance, seedMember, seedServiceKey, startInstance } from '../../support/instance';
import { createPostgresDatabase, PostgresDatabase } from '../../support/services';
import { WEBHOOK_SECRET } from '../../support/stack';
import { request } from '../../support/test-app';
import { expectLedgerConsistent } from '../fulfilment/helpers';
import { until } from './helpers';

/** Two API instances on one PostgreSQL: concurrent debits crossing the threshold start one refill. */
describe('auto-refill across two instances (PostgreSQL)', () => {
  let database: PostgresDatabase;
  let emulator: StripeEmulator;
  let a: Instance;
  let b: Instance;
  let key: string;
  let orgId: string;

  beforeAll(async () => {
    database = await createPostgresDatabase();
    emulator = await startStripeEmulator({ port: 0, webhookSecret: WEBHOOK_SECRET });
    const env = {
      DATABASE_URL: database.url,
      STRIPE_SECRET_KEY: 'sk_test_two',
      STRIPE_API_BASE: emulator.url,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_TIMEOUT_MS: '5000',
    };
    // One after the other: the first creates the job queue's schema.
    a = await startInstance(env);
    b = await startInstance(env);
    emulator.setWebhookUrl(`${a.url}/api/v1/stripe/webhook`);
    key = await seedMember(a.db, 'acme', 'admin@acme.test', 'admin');
    orgId = (await a.db.select().from(organizations).where(eq(organizations.slug, 'acme')))[0].id;
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await emulator?.close();
    await database?.drop();
  });

  it('20 concurrent debits on both instances, crossing the threshold, start exactly one refill', async () => {
    const checkout = await a.request('POST', '/api/v1/org/acme/credits/checkout', {
      headers: bearer(key),
      body: { success_url: 'http://localhost/ok', cancel_url: 'http://localhost/no', save_payment_method: true },
    });
    expect(checkout.status).toBe(200);
    const paid = await request(emulator.url, 'POST', `/_emulator/sessions/${checkout.body.session_id}/pay`, {
      body: { payment_method: 'pm_card_visa' },
    });
    expect(paid.status).toBe(200);
    const settings = () => b.request('GET', '/api/v1/org/acme/credits/auto-refill', { headers: bearer(key) });
    // Polled in the database: polling the API every 25 ms would spend the caller's read budget (429).
    await until('the card saved', async () => (await savedCards()) === 1);
    const enabled = await b.request('PUT', '/api/v1/org/acme/credits/auto-refill', {
      headers: bearer(key),
      body: { enabled: true, threshold: 500, quantity: 1, monthly_limit: 5 },
    });
    expect(enabled.status).toBe(200);

    // 1000 credits, 20 debits of 50 through POST /credits/usage, half on each instance: the
    // 11th crosses below 500, and every later one is below too.
    const host = await seedServiceKey(a.db, 'host-backend', ['credits:read', 'credits:spend']);
    const debits = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).request('POST', '/api/v1/org/acme/credits/usage', {
          headers: bearer(host, { 'idempotency-key': `usage-${i}` }),
          body: { amount: 50, description: 'concurrent usage' },
        }),
      ),
    );
    expect(debits.map((res) => res.status)).toEqual(Array(20).fill(200));
    await until('the refill granted', async () => (await refillEntries()) === 1);
    expect((await settings()).body.refills_this_month).toBe(1);
    const all = await rows<{ status: string }>(
      a.db,
      sql`select status from auto_refills where org_id = ${orgId}::uuid`,
    );
    expect(all).toEqual([{ status: 'succeeded' }]);
    const balance = await a.request('GET', '/api/v1/org/acme/credits', { headers: bearer(key) });
    expect(balance.body.balance).toBe(1000);
    await expectLedgerConsistent(a.db);
  });

  async function savedCards(): Promise<number> {
    const [row] = await rows<{ n: number }>(
      a.db,
      sql`select count(*)::int as n from auto_refill_settings where org_id = ${orgId}::uuid and payment_method_id is not null`,
    );
    return Number(row.n);
  }

  async function refillEntries(): Promise<number> {
    const [row] = await rows<{ n: number }>(
      a.db,
      sql`select count(*)::int as n from credit_ledger where org_id = ${orgId}::uuid and transaction_type = 'auto_refill'`,
    );
    return Number(row.n);
  }
});
