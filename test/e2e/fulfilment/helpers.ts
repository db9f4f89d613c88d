import { sql } from 'drizzle-orm';
import Stripe from 'stripe';
import { rows, type Db } from '@credits/database';
import { HttpResult } from '../../support/test-app';
import { Stack, WEBHOOK_SECRET } from '../../support/stack';
import { bearer } from '../../support/auth';

export { rows } from '@credits/database';

export const WEBHOOK_PATH = '/api/v1/stripe/webhook';
export const SUCCESS_URL = 'http://localhost/billing/success?session_id={CHECKOUT_SESSION_ID}';
export const CANCEL_URL = 'http://localhost/billing/cancel';

/** Only for signing test payloads: no request ever leaves with this key. */
const stripe = new Stripe('sk_test_signing_only');

/** A `Stripe-Signature` header for `payload`, signed now (or at `timestamp`, unix seconds). */
export function sign(payload: string, options: { secret?: string; timestamp?: number } = {}): string {
  return stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? WEBHOOK_SECRET,
    timestamp: options.timestamp,
  });
}

/** POSTs `payload` to the webhook as Stripe does, freshly signed unless `signature` is given (`null`: no header). */
export function postWebhook(s: Stack, payload: string, signature?: string | null): Promise<HttpResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (signature !== null) headers['stripe-signature'] = signature ?? sign(payload);
  return s.request('POST', WEBHOOK_PATH, { headers, raw: payload });
}

/** A Stripe-shaped event around `object`, as JSON text. */
export function eventJson(
  type: string,
  object: Record<string, unknown>,
  id = `evt_test_${Math.random().toString(36).slice(2)}`,
): string {
  return JSON.stringify({
    id,
    object: 'event',
    api_version: '2025-08-27.basil',
    created: Math.floor(Date.now() / 1000),
    type,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
  });
}

/** Creates a checkout session for `org` through the API; returns its id. */
export async function createSession(s: Stack, key: string, org: string, quantity = 1): Promise<string> {
  const res = await s.request('POST', `/api/v1/org/${org}/credits/checkout`, {
    headers: bearer(key),
    body: { success_url: SUCCESS_URL, cancel_url: CANCEL_URL, quantity },
  });
  if (res.status !== 200) throw new Error(`checkout for ${org}: ${res.status} ${res.text}`);
  return res.body.session_id;
}

/** The exact payload of an emulator event (created with `deliver: false`). */
export async function payloadOf(s: Stack, eventId: string): Promise<string> {
  return ((await s.control('GET', `/events/${eventId}`)) as { payload: string }).payload;
}

export interface Paid {
  eventId: string;
  chargeId: string;
  paymentIntentId: string;
}

/** Pays a session in the emulator without delivering its `checkout.session.completed`. */
export async function payQuietly(s: Stack, sessionId: string, async = false): Promise<Paid> {
  const out = await s.control('POST', `/sessions/${sessionId}/pay`, { async, deliver: false });
  return { eventId: out.events[0].id, chargeId: out.charge.id, paymentIntentId: out.payment_intent.id };
}

/** Refunds `amount` (default: the rest) of a charge without delivering the event; returns the event id. */
export async function refundQuietly(s: Stack, chargeId: string, amount?: number): Promise<string> {
  const out = await s.control('POST', `/charges/${chargeId}/refund`, { amount, deliver: false });
  return out.events[0].id;
}

export async function count(
  db: Db,
  table: 'stripe_events' | 'credit_ledger' | 'credit_balances' | 'checkout_sessions',
): Promise<number> {
  const [{ n }] = await rows<{ n: number }>(db, sql.raw(`select count(*)::int as n from ${table}`));
  return Number(n);
}

/**
 * The ledger invariant, for every org: the balance equals the sum of its entries, neither is
 * negative, and each entry's `balance_after` is the running sum in `seq` order.
 */
export async function expectLedgerConsistent(db: Db): Promise<void> {
  const mismatches = await rows(
    db,
    sql`
    select o.id, b.balance, coalesce(l.total, 0) as total
    from organizations o
    left join credit_balances b on b.org_id = o.id
    left join (select org_id, sum(amount) as total from credit_ledger group by org_id) l on l.org_id = o.id
    where coalesce(b.balance, 0) <> coalesce(l.total, 0) or coalesce(b.balance, 0) < 0`,
  );
  expect(mismatches).toEqual([]);
  const broken = await rows(
    db,
    sql`
    select seq, org_id, balance_after, running from (
      select seq, org_id, balance_after, sum(amount) over (partition by org_id order by seq) as running from credit_ledger
    ) t where balance_after <> running or balance_after < 0`,
  );
  expect(broken).toEqual([]);
  await expectGrantsConsistent(db);
}

/**
 * The grants' invariants (DESIGN §1.4): Σ remaining over an org's grants (held parts and
 * expired-but-unwritten parts included) = its balance; every debit's draws add up to it (since
 * grants exist); and
 * no entry spends a grant outside its window or after its void (a hold's capture spends what
 * the hold drew inside the window, so it may come after).
 */
export async function expectGrantsConsistent(db: Db): Promise<void> {
  const unbalanced = await rows(
    db,
    sql`
    select o.id, coalesce(b.balance, 0) as balance, coalesce(g.total, 0) as granted
    from organizations o
    left join credit_balances b on b.org_id = o.id
    left join (select org_id, sum(remaining) as total from credit_grants group by org_id) g on g.org_id = o.id
    where coalesce(b.balance, 0) <> coalesce(g.total, 0)`,
  );
  expect(unbalanced).toEqual([]);
  const undrawn = await rows(
    db,
    sql`
    select l.seq, l.amount, l.draws from credit_ledger l
    where l.amount < 0 and -l.amount <> coalesce((select sum((d->>'amount')::bigint) from jsonb_array_elements(l.draws) d), 0)
      -- Debits from before grants existed (migrated databases) drew from no grant.
      and l.created_at >= (select min(created_at) from credit_grants)`,
  );
  expect(undrawn).toEqual([]);
  const outside = await rows(
    db,
    sql`
    select l.seq, l.transaction_type, l.source_ref, g.id as grant_id from credit_ledger l
    cross join jsonb_array_elements(l.draws) d
    join credit_grants g on g.id = (d->>'grant_id')::uuid
    where l.amount < 0 and l.transaction_type not in ('expiration', 'void') and not starts_with(l.source_ref, 'hold:')
      and (l.created_at < g.effective_at or l.created_at >= g.expires_at or l.created_at >= g.voided_at
           or g.org_id <> l.org_id)`,
  );
  expect(outside).toEqual([]);
}
