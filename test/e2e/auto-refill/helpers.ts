import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { AutoRefillRepository } from '@credits/billing';
import { organizations, rows } from '@credits/database';
import { bearer } from '../../support/auth';
import { Stack } from '../../support/stack';
import { until } from '../../jobs/support';
import { CANCEL_URL, SUCCESS_URL } from '../fulfilment/helpers';

export { until } from '../../jobs/support';

/** An org with an admin key, and its id. */
export async function newOrg(s: Stack, slug: string): Promise<{ key: string; orgId: string }> {
  const key = await s.member(slug, `admin@${slug}.test`, 'admin');
  const [org] = await s.db.select().from(organizations).where(eq(organizations.slug, slug));
  return { key, orgId: org.id };
}

export const settingsPath = (slug: string) => `/api/v1/org/${slug}/credits/auto-refill`;

export async function settings(s: Stack, key: string, slug: string): Promise<any> {
  const res = await s.request('GET', settingsPath(slug), { headers: bearer(key) });
  if (res.status !== 200) throw new Error(`GET auto-refill: ${res.status} ${res.text}`);
  return res.body;
}

/**
 * Buys `quantity` bundles through Checkout asking to keep the card, pays them in the emulator
 * with `card`, and waits until the card is saved for auto-refill.
 */
export async function buySavingCard(
  s: Stack,
  key: string,
  slug: string,
  card = 'pm_card_visa',
  quantity = 1,
): Promise<string> {
  const res = await s.request('POST', `/api/v1/org/${slug}/credits/checkout`, {
    headers: bearer(key),
    body: { success_url: SUCCESS_URL, cancel_url: CANCEL_URL, quantity, save_payment_method: true },
  });
  if (res.status !== 200) throw new Error(`checkout: ${res.status} ${res.text}`);
  await s.control('POST', `/sessions/${res.body.session_id}/pay`, { payment_method: card });
  // Polled in the database: polling the API every 25 ms would spend the caller's read budget (429).
  await until('the card saved', async () => {
    const [row] = await rows<{ n: number }>(
      s.db,
      sql`select count(*)::int as n from auto_refill_settings a join organizations o on o.id = a.org_id
          where o.slug = ${slug} and a.payment_method_id is not null`,
    );
    return Number(row.n) === 1;
  });
  return res.body.session_id;
}

export async function enable(
  s: Stack,
  key: string,
  slug: string,
  body: { threshold: number; quantity?: number; monthly_limit?: number },
): Promise<any> {
  const res = await s.request('PUT', settingsPath(slug), {
    headers: bearer(key),
    body: { enabled: true, quantity: 1, ...body },
  });
  if (res.status !== 200) throw new Error(`PUT auto-refill: ${res.status} ${res.text}`);
  return res.body;
}

/** The host backend's service key on `s` (one per stack): it may spend and read. */
const hostKeys = new WeakMap<Stack, Promise<string>>();

/** Spends `amount` credits as the host backend does: `POST /credits/usage` with its service key. */
export async function spend(s: Stack, orgId: string, amount: number): Promise<void> {
  if (!hostKeys.has(s)) hostKeys.set(s, s.serviceKey('host-backend', ['credits:read', 'credits:spend']));
  const key = await hostKeys.get(s)!;
  const [org] = await s.db.select().from(organizations).where(eq(organizations.id, orgId));
  const res = await s.request('POST', `/api/v1/org/${org.slug}/credits/usage`, {
    headers: bearer(key, { 'idempotency-key': randomUUID() }),
    body: { amount, description: 'test usage' },
  });
  if (res.status !== 200) throw new Error(`usage: ${res.status} ${res.text}`);
}

/** Replaces the saved card, as a card swapped at Stripe would (a `pm_card_*` test card). */
export function swapCard(s: Stack, orgId: string, card: string) {
  return s.db.transaction((tx) =>
    s.app
      .get(AutoRefillRepository)
      .in(tx)
      .saveCard(orgId, { paymentMethodId: card, brand: 'visa', last4: '0000', expMonth: 12, expYear: 2030 }),
  );
}

export interface RefillRow {
  id: string;
  status: string;
  credits: number;
  stripe_payment_intent_id: string | null;
  failure_code: string | null;
}

export function refills(s: Stack, orgId: string): Promise<RefillRow[]> {
  return rows<RefillRow>(
    s.db,
    sql`select id, status, credits::int as credits, stripe_payment_intent_id, failure_code
        from auto_refills where org_id = ${orgId}::uuid order by created_at`,
  );
}

export function entries(
  s: Stack,
  orgId: string,
  type: string,
): Promise<{ amount: number; source_ref: string; receipt_url: string | null }[]> {
  return rows(
    s.db,
    sql`select amount::int as amount, source_ref, receipt_url from credit_ledger
        where org_id = ${orgId}::uuid and transaction_type = ${type} order by seq`,
  );
}

export async function eventTypes(s: Stack, orgId: string): Promise<string[]> {
  const found = await rows<{ type: string }>(
    s.db,
    sql`select type from notification_events where org_id = ${orgId}::uuid order by created_at`,
  );
  return found.map((row) => row.type);
}
