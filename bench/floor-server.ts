/**
 * The floors: the least a server can do for each measured route, on the same machine,
 * the same Stripe emulator and the same PostgreSQL. No Nest, no auth, no validation.
 *
 *   POST /checkout   the same `stripe.checkout.sessions.create` call the API makes
 *   POST /invalid    the API's 422 answer, verbatim
 *   GET  /balance    one SELECT of the org's balance
 *   POST /usage/:i   the naive debit of floor org i: one conditional UPDATE of its balance and
 *                    the INSERT of its entry (unique source per Idempotency-Key), per request
 */
import Fastify from 'fastify';
import { Pool } from 'pg';
import { loadConfig } from '@credits/config';
import { createStripeClient } from '@credits/stripe';

async function main(): Promise<void> {
  const env = process.env;
  const config = loadConfig(env);
  const orgId = required('BENCH_ORG_ID');
  const orgSlug = required('BENCH_ORG_SLUG');
  const userId = required('BENCH_USER_ID');
  const customer = required('BENCH_CUSTOMER_ID');
  const invalidBody = required('BENCH_422_BODY');
  const usageOrgIds = required('BENCH_USAGE_ORG_IDS').split(',');

  const stripe = createStripeClient(config.stripe);
  const pool = new Pool({ connectionString: config.database.url, max: config.database.poolMax });
  const { checkout } = config;

  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.post('/checkout', async (request) => {
    const body = request.body as { success_url: string; cancel_url: string; quantity?: number };
    const bundles = body.quantity ?? 1;
    const credits = bundles * checkout.creditsPerBundle;
    const key = request.headers['idempotency-key'];
    const session = await stripe.checkout.sessions.create(
      {
        mode: 'payment',
        customer,
        client_reference_id: orgId,
        line_items: [
          {
            quantity: bundles,
            price_data: {
              currency: checkout.currency,
              unit_amount: checkout.unitAmount,
              product_data: { name: checkout.productName, description: `${checkout.creditsPerBundle} credits` },
            },
          },
        ],
        success_url: body.success_url,
        cancel_url: body.cancel_url,
        metadata: {
          org_id: orgId,
          org_slug: orgSlug,
          user_id: userId,
          bundles: String(bundles),
          credits: String(credits),
        },
      },
      typeof key === 'string' ? { idempotencyKey: key } : undefined,
    );
    return {
      checkout_url: session.url,
      session_id: session.id,
      expires_at: session.expires_at ? new Date(session.expires_at * 1000).toISOString() : null,
      credits,
      amount_total: session.amount_total,
      currency: session.currency,
    };
  });

  app.post('/invalid', async (_request, reply) => {
    void reply.code(422).header('content-type', 'application/json; charset=utf-8');
    return invalidBody;
  });

  app.get('/balance', async () => {
    const { rows } = await pool.query<{ balance: number }>('select balance from credit_balances where org_id = $1', [
      orgId,
    ]);
    const balance = rows[0]?.balance ?? 0;
    return { balance, is_low_balance: balance < config.credits.lowBalanceThreshold, auto_refill_enabled: false };
  });

  // One statement (one round trip, one commit): the balance moves only if it covers the debit,
  // and the entry's unique source refuses a key twice (rolling the update back with it).
  app.post('/usage/:i', async (request, reply) => {
    const orgId = usageOrgIds[Number((request.params as { i: string }).i)];
    const { amount } = request.body as { amount: number };
    const key = request.headers['idempotency-key'];
    const { rows } = await pool.query<{ id: string; balance_after: string }>(
      `with b as (
         update credit_balances set balance = balance - $1, updated_at = now()
         where org_id = $2 and balance >= $1 returning balance)
       insert into credit_ledger (org_id, amount, balance_after, transaction_type, description, source_ref)
       select $2, -$1::bigint, balance, 'usage', 'Usage', 'floor-usage:' || $3::text from b
       returning id, balance_after`,
      [amount, orgId, key],
    );
    if (rows.length === 0) return reply.code(402).send({ code: 402, type: 'insufficient_credits_error' });
    return { transaction_id: rows[0].id, balance: Number(rows[0].balance_after) };
  });

  await app.listen({ port: config.http.port, host: '127.0.0.1' });
  const stop = () =>
    void app
      .close()
      .then(() => pool.end())
      .then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`floor-server: ${name} is required`);
  return value;
}

main().catch((err: unknown) => {
  process.stderr.write(`floor-server: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
