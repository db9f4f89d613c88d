/**
 * The floors' work: the least a server can do for each measured route, on the same machine,
 * the same Stripe emulator and the same PostgreSQL. Two servers answer with it, one on bare
 * Fastify (`fastify-floor.ts`) and one on bare Nest with the Fastify adapter (`nest-floor.ts`),
 * so the bench can tell what Nest itself costs from what our code around it costs.
 *
 * Bare floors (no auth, no database writes, no validation):
 *   POST /checkout   the same `stripe.checkout.sessions.create` call the API makes
 *   POST /invalid    the API's 422 answer, verbatim
 *   GET  /balance    one SELECT of the org's balance (its row alone)
 *   POST /usage/:i   the naive debit of floor org i: one conditional UPDATE of its balance and
 *                    the INSERT of its entry (unique source per Idempotency-Key), per request
 *
 * Same-work floors (`/same/…`): the same essential I/O as the API, with raw `pg` and
 * prepared statements and nothing else: the API key and the caller's membership of the org
 * (the API's own query), then for checkout the idempotency claim, the Stripe call and the
 * session written with the key's answer; for balance the API's own balance statement (the
 * balance, holds, grants in effect, the soonest expiry, auto-refill: `balanceSummaryQuery`,
 * its text taken once at start). What separates these
 * from the bare floors is what the design asks for; what separates the API from the same work
 * on Nest is what our own code around the I/O costs.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { fillPlaceholders } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Pool } from 'pg';
import type Stripe from 'stripe';
import { balanceSummaryQuery } from '@credits/billing/credits/balance.repository';
import { type AppConfig, loadConfig } from '@credits/config';
import { DEFAULT_IDLE_TIMEOUT_MS, fullSchema } from '@credits/database';
import { createStripeClient } from '@credits/stripe';

/** A status and a JSON body, for whichever server sends it. */
export interface Answer {
  status: number;
  body: unknown;
}

export interface CheckoutBody {
  success_url: string;
  cancel_url: string;
  quantity?: number;
}

/** The caller the same-work floors authenticate, or the answer that refuses them. */
type Caller = { userId: string; orgId: string } | { refused: Answer };

/** Every route's work, independent of the server that answers it. */
export interface FloorWork {
  checkout(body: CheckoutBody, idempotencyKey: string | undefined): Promise<Answer>;
  invalid(): Answer;
  balance(): Promise<Answer>;
  usage(index: number, amount: number, idempotencyKey: string | undefined): Promise<Answer>;
  sameCheckout(authorization: string | undefined, body: CheckoutBody, idempotencyKey: string): Promise<Answer>;
  sameInvalid(authorization: string | undefined): Promise<Answer>;
  sameBalance(authorization: string | undefined): Promise<Answer>;
  close(): Promise<void>;
}

export function floorWork(env: NodeJS.ProcessEnv): FloorWork {
  const config = loadConfig(env);
  const orgId = required(env, 'BENCH_ORG_ID');
  const orgSlug = required(env, 'BENCH_ORG_SLUG');
  const userId = required(env, 'BENCH_USER_ID');
  const customer = required(env, 'BENCH_CUSTOMER_ID');
  const invalidBody: unknown = JSON.parse(required(env, 'BENCH_422_BODY'));
  const usageOrgIds = required(env, 'BENCH_USAGE_ORG_IDS').split(',');

  const stripe = createStripeClient(config.stripe);
  // The API's pool, as openDatabase sizes it: with node-postgres's own 10 s idle timeout the
  // floor closed its connections while the other sides ran, and met each round with new ones.
  const pool = new Pool({
    connectionString: config.database.url,
    max: config.database.poolMax,
    idleTimeoutMillis: DEFAULT_IDLE_TIMEOUT_MS,
  });
  const { checkout } = config;
  const ok = (body: unknown): Answer => ({ status: 200, body });

  /** The API's `stripe.checkout.sessions.create` parameters. */
  const sessionParams = (
    body: CheckoutBody,
    bundles: number,
    credits: number,
    buyer: string,
  ): Stripe.Checkout.SessionCreateParams => ({
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
    metadata: { org_id: orgId, org_slug: orgSlug, user_id: buyer, bundles: String(bundles), credits: String(credits) },
  });

  // The API's key lookup: the key, its user, and the user's membership of the org named in the
  // path, in one prepared query.
  const keyWithOrg = `select k.id, k.key_hash, k.expires_at, k.revoked_at, u.id as user_id, u.email,
         o.id as org_id, o.slug, o.name, o.stripe_customer_id, m.role
    from api_keys k
    join users u on u.id = k.user_id
    left join organizations o on o.slug = $2
    left join memberships m on m.org_id = o.id and m.user_id = u.id
   where k.prefix = $1 limit 1`;
  const authenticate = async (authorization: string | undefined): Promise<Caller> => {
    const token = (authorization ?? '').replace(/^Bearer /, '');
    const prefix = /^(ck_[A-Za-z0-9]{8})_[A-Za-z0-9_-]{43}$/.exec(token)?.[1];
    const { rows } = prefix
      ? await pool.query<{
          key_hash: string;
          expires_at: Date | null;
          revoked_at: Date | null;
          user_id: string;
          org_id: string | null;
          role: string | null;
        }>({ name: 'key_with_org', text: keyWithOrg, values: [prefix, orgSlug] })
      : { rows: [] };
    const row = rows[0];
    const hash = createHash('sha256').update(token).digest();
    if (!row || !timingSafeEqual(Buffer.from(row.key_hash, 'hex'), hash) || row.revoked_at)
      return { refused: { status: 401, body: { error: 'unauthenticated' } } };
    if (row.expires_at && row.expires_at.getTime() <= Date.now())
      return { refused: { status: 401, body: { error: 'unauthenticated' } } };
    if (!row.org_id || !row.role) return { refused: { status: 404, body: { error: 'not found' } } };
    return { userId: row.user_id, orgId: row.org_id };
  };

  const lockMs = 2 * config.stripe.callDeadlineMs + 5000;
  const claimSql = `insert into idempotency_keys (org_id, user_id, key, request_hash, state, locked_until, expires_at)
    values ($1, $2, $3, $4, 'in_progress', $5, $6) on conflict do nothing returning key`;
  const completeSql = `with alongside as (
      insert into checkout_sessions (id, org_id, user_id, bundles, credits, amount_total, currency, status, expires_at)
      values ($6, $1, $2, $7, $8, $9, $10, 'open', $11) on conflict do nothing)
    update idempotency_keys set state = 'completed', response_status = 200, response_body = $5
     where user_id = $2 and org_id = $1 and key = $3 and state = 'in_progress' and locked_until = $4`;

  const readBalance = async (org: string): Promise<Answer> => {
    const { rows } = await pool.query<{ balance: string }>({
      name: 'balance',
      text: 'select balance from credit_balances where org_id = $1',
      values: [org],
    });
    const balance = Number(rows[0]?.balance ?? 0);
    return ok({ balance, is_low_balance: balance < config.credits.lowBalanceThreshold, auto_refill_enabled: false });
  };

  const summary = summaryStatement(pool, config);
  const readSummary = async (org: string): Promise<Answer> => {
    // Drizzle reads its unaliased columns by position, and so does this.
    const { rows } = await pool.query<SummaryRow>({
      name: 'balance_summary',
      text: summary.text,
      values: summary.values(org),
      rowMode: 'array',
    });
    const [balanceText, held, available, expiring, autoRefill] = rows[0] ?? ['0', '0', '0', null, false];
    const balance = Number(balanceText);
    return ok({
      balance,
      available_balance: Number(available),
      held: Number(held),
      expiring: expiring
        ? { amount: Number(expiring.amount), expires_at: new Date(Number(expiring.expires_ms)).toISOString() }
        : null,
      is_low_balance: balance < config.credits.lowBalanceThreshold,
      auto_refill_enabled: autoRefill,
    });
  };

  return {
    async checkout(body, idempotencyKey) {
      const bundles = body.quantity ?? 1;
      const credits = bundles * checkout.creditsPerBundle;
      const session = await stripe.checkout.sessions.create(
        sessionParams(body, bundles, credits, userId),
        idempotencyKey ? { idempotencyKey } : undefined,
      );
      return ok({
        checkout_url: session.url,
        session_id: session.id,
        expires_at: session.expires_at ? new Date(session.expires_at * 1000).toISOString() : null,
        credits,
        amount_total: session.amount_total,
        currency: session.currency,
      });
    },

    invalid: () => ({ status: 422, body: invalidBody }),

    balance: () => readBalance(orgId),

    // One statement (one round trip, one commit): the balance moves only if it covers the debit,
    // and the entry's unique source refuses a key twice (rolling the update back with it).
    async usage(index, amount, idempotencyKey) {
      const { rows } = await pool.query<{ id: string; balance_after: string }>(
        `with b as (
           update credit_balances set balance = balance - $1, updated_at = now()
           where org_id = $2 and balance >= $1 returning balance)
         insert into credit_ledger (org_id, amount, balance_after, transaction_type, description, source_ref)
         select $2, -$1::bigint, balance, 'usage', 'Usage', 'floor-usage:' || $3::text from b
         returning id, balance_after`,
        [amount, usageOrgIds[index], idempotencyKey],
      );
      if (rows.length === 0) return { status: 402, body: { code: 402, type: 'insufficient_credits_error' } };
      return ok({ transaction_id: rows[0].id, balance: Number(rows[0].balance_after) });
    },

    async sameCheckout(authorization, body, idempotencyKey) {
      const caller = await authenticate(authorization);
      if ('refused' in caller) return caller.refused;
      const bundles = body.quantity ?? 1;
      const credits = bundles * checkout.creditsPerBundle;
      const now = Date.now();
      const lockedUntil = new Date(now + lockMs);
      const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
      const claimed = await pool.query({
        name: 'claim',
        text: claimSql,
        values: [caller.orgId, caller.userId, idempotencyKey, requestHash, lockedUntil, new Date(now + 86_400_000)],
      });
      if (claimed.rowCount === 0) throw new Error('same-work floor: the idempotency key was claimed already');
      const stripeKey = `credits-api:checkout:${createHash('sha256').update(`${caller.orgId}\n${caller.userId}\n${idempotencyKey}`).digest('hex')}`;
      const session = await stripe.checkout.sessions.create(sessionParams(body, bundles, credits, caller.userId), {
        idempotencyKey: stripeKey,
      });
      const expiresAt = session.expires_at ? new Date(session.expires_at * 1000) : null;
      const answer = {
        checkout_url: session.url,
        session_id: session.id,
        expires_at: expiresAt?.toISOString() ?? null,
        credits,
        amount_total: session.amount_total,
        currency: session.currency,
      };
      await pool.query({
        name: 'complete',
        text: completeSql,
        values: [
          caller.orgId,
          caller.userId,
          idempotencyKey,
          lockedUntil,
          JSON.stringify(answer),
          session.id,
          bundles,
          credits,
          session.amount_total,
          session.currency,
          expiresAt,
        ],
      });
      return ok(answer);
    },

    async sameInvalid(authorization) {
      const caller = await authenticate(authorization);
      return 'refused' in caller ? caller.refused : { status: 422, body: invalidBody };
    },

    async sameBalance(authorization) {
      const caller = await authenticate(authorization);
      return 'refused' in caller ? caller.refused : readSummary(caller.orgId);
    },

    close: () => pool.end(),
  };
}

/** balance, held, available, expiring, auto-refill on: the statement's columns in order. */
type SummaryRow = [string, string, string, { amount: number | string; expires_ms: number | string } | null, boolean];

/** The API's balance statement as text and its parameters for an org, built once with Drizzle, sent with raw `pg`. */
function summaryStatement(pool: Pool, config: AppConfig): { text: string; values: (orgId: string) => unknown[] } {
  const { sql: text, params } = balanceSummaryQuery(drizzle(pool, { schema: fullSchema }), config).toSQL();
  // fillPlaceholders throws for a placeholder it is not given a value for.
  return { text, values: (orgId) => fillPlaceholders(params, { orgId }) };
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`floor: ${name} is required`);
  return value;
}
