import { query } from '../database';
import { median, runLoad, type Sample } from '../load';
import { log } from '../log';
import { sampleRow, type Row } from '../table-rows';
import { authHeaders, CANCEL_URL, creditsPath, post, SUCCESS_URL } from '../requests';
import type { RefillOrg } from '../seed';
import type { Stack } from '../stack';
import { debits, Tally } from './usage';

/**
 * Bundles bought at setup (1,000 credits each): the balance starts just above THRESHOLD, so
 * the first refill starts within the first second of load.
 */
const PURCHASE_BUNDLES = 6;
/** Credits: a debit leaving less available than this starts a refill. */
const THRESHOLD = 5000;
/** Bundles a refill buys: less than the debits spend while one is charged (about 3 s), so refills follow each other and the balance touches zero. */
const REFILL_BUNDLES = 2;
/** The most a month allows: the run must never be stopped by it. */
const MONTHLY_LIMIT = 100;

export interface AutoRefillCheck {
  held: boolean;
  /** Refills started, by final status; `inFlight` must be 0 once the run settled. */
  started: number;
  succeeded: number;
  failed: number;
  inFlight: number;
  /** Pairs of one org's refills whose lifetimes (created_at … updated_at) overlap, and the largest overlap. */
  overlaps: number;
  maxOverlapMs: number;
  /** Refills whose debit group began before the previous refill's grant committed, and waited for it on the balance row (not overlaps). */
  waitedOnGrant: number;
  maxWaitMs: number;
  /** Succeeded refills without exactly one `auto_refill:<pi>` entry of their credits, and entries no succeeded refill explains. */
  refillsNotGrantedOnce: number;
  orphanEntries: number;
  /** Debits sent, answered 200, answered 402 (balance ran out), in the ledger. */
  sent: number;
  answered: number;
  refused: number;
  applied: number;
  /** Answered 200 but missing, applied with another amount, or applied without being sent (or twice). */
  wrong: number;
  /** Σ balances, Σ ledger, and purchases + refills granted − debits applied: all three equal. */
  balance: number;
  ledger: number;
  expectedBalance: number;
  lowest: number;
  orgsOff: number;
  /** `payment_intent.succeeded` events the API received (each raced the charge job's own grant of its refill). */
  succeededEvents: number;
  /** Refill lifetimes, created_at … last update (the charge job waits for the queue's next 2 s poll), median and longest. */
  refillP50Ms: number;
  refillMaxMs: number;
  /** Whether some org reached its monthly limit (then refills stopped: not a failure, but the run measured less). */
  monthlyLimitHit: boolean;
}

export interface AutoRefillResult {
  orgs: number;
  seconds: number;
  /** Debits answered 200 per second. */
  debitsPerSecond: number;
  row: Row;
  sample: Sample;
  check: AutoRefillCheck;
}

/**
 * Auto-refill under concurrent debits: orgs with a saved card and auto-refill on, 50
 * connections of `POST …/credits/usage` (fresh keys, 1–9 credits) dealt over them so each
 * balance crosses its threshold again and again while refills are charged. The emulator
 * delivers its events to the API for the run, so `payment_intent.succeeded` races the charge
 * job's own grant. After the load, once no refill is in flight, the database must show: no two
 * refills of an org alive at once, each succeeded refill granted exactly once, every accepted
 * debit once, balance = Σ ledger = purchases + refills − debits, never below zero.
 */
export async function autoRefillScenario(stack: Stack, seconds: number): Promise<AutoRefillResult> {
  const { api, emulator, dbUrl } = stack;
  const orgs = stack.seeded.refillOrgs;
  await emulatorConfig(emulator.url, `${api.url}/api/v1/stripe/webhook`);
  try {
    log(`autorefill: saving a card for ${orgs.length} orgs`);
    for (const org of orgs) await buySavingCard(stack, org);
    await waitFor('the cards saved and the purchases granted', 60, async () => {
      const [{ cards, purchases }] = await query<{ cards: string; purchases: string }>(
        dbUrl,
        `select (select count(*) from auto_refill_settings where org_id = any($1::uuid[]) and payment_method_id is not null) as cards,
                (select count(*) from credit_ledger where org_id = any($1::uuid[]) and transaction_type = 'purchase') as purchases`,
        [orgs.map((o) => o.id)],
      );
      return Number(cards) === orgs.length && Number(purchases) === orgs.length;
    });
    for (const org of orgs) await enable(api.url, org);

    const tally = new Tally();
    const spec = { ...debits(api.url, orgs, (org) => `${creditsPath(org.slug)}/usage`, tally), expect: [200, 402] };
    log(`autorefill: ${seconds} s of debits over ${orgs.length} orgs`);
    const sample = await runLoad(spec, { seconds });
    log(
      `autorefill: ${sample.rps.toFixed(0)} req/s, p99 ${sample.p99} ms, statuses ${JSON.stringify(sample.statuses)}; settling`,
    );
    await settle(dbUrl, orgs);
    const check = await verify(dbUrl, orgs, tally, sample);
    const debitsPerSecond = tally.answered.size / sample.seconds;
    const row = sampleRow(
      `autorefill (${orgs.length} orgs, ${check.started} refills)`,
      sample,
      'no overlap, exactly-once',
      check.held,
    );
    return { orgs: orgs.length, seconds, debitsPerSecond, row, sample, check };
  } finally {
    await emulatorConfig(emulator.url, null).catch(() => undefined);
  }
}

async function emulatorConfig(url: string, webhookUrl: string | null): Promise<void> {
  const res = await post(url, '/_emulator/config', JSON.stringify({ webhook_url: webhookUrl }), {});
  if (res.status !== 200) throw new Error(`emulator config answered ${res.status}: ${res.text}`);
}

/** As a customer does (test/e2e/auto-refill/helpers.ts `buySavingCard`): Checkout keeping the card, paid in the emulator. */
async function buySavingCard({ api, emulator }: Stack, org: RefillOrg): Promise<void> {
  const body = {
    success_url: SUCCESS_URL,
    cancel_url: CANCEL_URL,
    quantity: PURCHASE_BUNDLES,
    save_payment_method: true,
  };
  const res = await post(api.url, `${creditsPath(org.slug)}/checkout`, JSON.stringify(body), authHeaders(org.adminKey));
  if (res.status !== 200) throw new Error(`autorefill setup: checkout answered ${res.status}: ${res.text}`);
  const { session_id } = JSON.parse(res.text) as { session_id: string };
  const paid = await post(
    emulator.url,
    `/_emulator/sessions/${session_id}/pay`,
    JSON.stringify({ payment_method: 'pm_card_visa' }),
    {},
  );
  if (paid.status !== 200) throw new Error(`autorefill setup: pay answered ${paid.status}: ${paid.text}`);
}

async function enable(apiUrl: string, org: RefillOrg): Promise<void> {
  const body = { enabled: true, threshold: THRESHOLD, quantity: REFILL_BUNDLES, monthly_limit: MONTHLY_LIMIT };
  const res = await fetch(`${apiUrl}${creditsPath(org.slug)}/auto-refill`, {
    method: 'PUT',
    headers: { ...authHeaders(org.adminKey), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200)
    throw new Error(`autorefill setup: PUT auto-refill answered ${res.status}: ${await res.text()}`);
}

async function waitFor(what: string, seconds: number, done: () => Promise<boolean>): Promise<void> {
  for (const end = Date.now() + seconds * 1000; Date.now() < end;) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`autorefill: ${what} did not happen within ${seconds} s`);
}

/**
 * Waits (60 s at most) until no refill is in flight and the ledger has stopped growing: debits
 * cut off in flight land, and a refill they started is charged and granted (the charge job
 * polls every 2 s). What is still in flight after that fails the check.
 */
async function settle(dbUrl: string, orgs: RefillOrg[]): Promise<void> {
  let last = -1;
  for (let i = 0; i < 120; i++) {
    const [{ entries, in_flight }] = await query<{ entries: string; in_flight: string }>(
      dbUrl,
      `select (select count(*) from credit_ledger where org_id = any($1::uuid[])) as entries,
              (select count(*) from auto_refills where org_id = any($1::uuid[]) and status in ('pending', 'processing')) as in_flight`,
      [orgs.map((o) => o.id)],
    );
    if (Number(in_flight) === 0 && Number(entries) === last) return;
    last = Number(entries);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Whether the debit group that started `next` wrote its entries after `previous`'s grant entry
 * (the group's entries carry its start, to the millisecond, as `created_at`).
 */
async function startedAfterGrant(dbUrl: string, previous: RefillRow, next: RefillRow): Promise<boolean> {
  const [row] = await query<{ after: boolean | null }>(
    dbUrl,
    `select (select max(seq) from credit_ledger
              where org_id = $1::uuid and transaction_type = 'usage'
                and created_at = (select date_trunc('milliseconds', created_at) from auto_refills where id = $3::uuid))
            > (select seq from credit_ledger where source_ref = 'auto_refill:' || $2) as after`,
    [next.org_id, previous.payment_intent, next.id],
  );
  return row?.after === true;
}

interface RefillRow {
  id: string;
  org_id: string;
  status: string;
  credits: string;
  payment_intent: string | null;
  created_us: string;
  updated_us: string;
}

/** The run against the database; see `AutoRefillCheck` for each figure. */
async function verify(dbUrl: string, orgs: RefillOrg[], tally: Tally, sample: Sample): Promise<AutoRefillCheck> {
  const ids = orgs.map((o) => o.id);
  // Microseconds since the epoch, as text: a JS Date would round both ends to the millisecond.
  const refills = await query<RefillRow>(
    dbUrl,
    `select id, org_id, status, credits, stripe_payment_intent_id as payment_intent,
            (extract(epoch from created_at) * 1000000)::bigint::text as created_us,
            (extract(epoch from updated_at) * 1000000)::bigint::text as updated_us
       from auto_refills where org_id = any($1::uuid[]) order by org_id, created_at, id`,
    [ids],
  );
  const grants = await query<{ org_id: string; source_ref: string; amount: string }>(
    dbUrl,
    `select org_id, source_ref, amount from credit_ledger where org_id = any($1::uuid[]) and transaction_type = 'auto_refill'`,
    [ids],
  );
  const debitsApplied = await query<{ org_id: string; key: string; amount: string; entries: string }>(
    dbUrl,
    `select u.org_id, u.idempotency_key as key, u.debited as amount,
            (select count(*) from credit_ledger l where l.source_ref = 'usage:' || u.id and l.amount = -u.debited) as entries
       from usage_records u where u.org_id = any($1::uuid[])`,
    [ids],
  );
  const perOrg = await query<{
    org_id: string;
    balance: string | null;
    ledger: string;
    lowest: string;
    purchases: string;
    usage: string;
    other: string;
    refills_this_month: string;
  }>(
    dbUrl,
    `select o.id as org_id,
            (select balance from credit_balances b where b.org_id = o.id) as balance,
            (select coalesce(sum(amount), 0) from credit_ledger l where l.org_id = o.id) as ledger,
            (select coalesce(min(balance_after), 0) from credit_ledger l where l.org_id = o.id) as lowest,
            (select coalesce(sum(amount), 0) from credit_ledger l where l.org_id = o.id and transaction_type = 'purchase') as purchases,
            (select count(*) from credit_ledger l where l.org_id = o.id and transaction_type = 'usage') as usage,
            (select count(*) from credit_ledger l where l.org_id = o.id
               and transaction_type not in ('purchase', 'usage', 'auto_refill')) as other,
            (select count(*) from auto_refills r where r.org_id = o.id
               and status in ('pending', 'processing', 'succeeded')
               and created_at >= date_trunc('month', now() at time zone 'utc') at time zone 'utc') as refills_this_month
       from organizations o where o.id = any($1::uuid[])`,
    [ids],
  );

  // Overlap: each refill of an org must have ended (its last update) before the next one began.
  // created_at is the start (BEGIN) of the debit group that started the refill, which may then
  // have waited on the org's balance row while the previous refill's grant held it: that
  // group's usage entries (written at its start's millisecond) then follow the grant's entry in
  // the ledger, which the balance lock orders. Such a pair is reported apart, not as an overlap.
  let overlaps = 0;
  let maxOverlapMs = 0;
  let waitedOnGrant = 0;
  let maxWaitMs = 0;
  const byOrg = new Map<string, RefillRow[]>();
  for (const refill of refills) byOrg.set(refill.org_id, [...(byOrg.get(refill.org_id) ?? []), refill]);
  for (const list of byOrg.values()) {
    for (let i = 1; i < list.length; i++) {
      const [previous, next] = [list[i - 1], list[i]];
      const gapMs = Number(BigInt(next.created_us) - BigInt(previous.updated_us)) / 1000;
      if (previous.status !== 'pending' && previous.status !== 'processing' && gapMs >= 0) continue;
      if (previous.status === 'succeeded' && (await startedAfterGrant(dbUrl, previous, next))) {
        waitedOnGrant++;
        maxWaitMs = Math.max(maxWaitMs, -gapMs);
      } else {
        overlaps++;
        maxOverlapMs = Math.max(maxOverlapMs, -gapMs);
      }
    }
  }

  // Grants: one entry per succeeded refill, of its credits, on its org; nothing else.
  const entryBySource = new Map<string, { org_id: string; amount: string }[]>();
  for (const grant of grants)
    entryBySource.set(grant.source_ref, [...(entryBySource.get(grant.source_ref) ?? []), grant]);
  let refillsNotGrantedOnce = 0;
  const explained = new Set<string>();
  const grantedByOrg = new Map<string, number>();
  for (const refill of refills) {
    if (refill.status !== 'succeeded') continue;
    const source = `auto_refill:${refill.payment_intent}`;
    const found = entryBySource.get(source) ?? [];
    if (found.length !== 1 || found[0].org_id !== refill.org_id || found[0].amount !== refill.credits)
      refillsNotGrantedOnce++;
    explained.add(source);
    grantedByOrg.set(refill.org_id, (grantedByOrg.get(refill.org_id) ?? 0) + Number(refill.credits));
  }
  const orphanEntries = grants.filter((g) => !explained.has(g.source_ref)).length;

  // Debits: as the usage scenario checks them.
  let wrong = 0;
  const seen = new Set<string>();
  const debitedByOrg = new Map<string, number>();
  for (const row of debitsApplied) {
    const sent = tally.sent.get(row.key);
    if (!sent || sent.org !== row.org_id || sent.amount !== Number(row.amount) || seen.has(row.key)) wrong++;
    else if (Number(row.entries) !== 1) wrong++;
    seen.add(row.key);
    debitedByOrg.set(row.org_id, (debitedByOrg.get(row.org_id) ?? 0) + Number(row.amount));
  }
  for (const key of tally.answered) if (!seen.has(key)) wrong++;

  let orgsOff = 0;
  let lowest = Number.POSITIVE_INFINITY;
  let balance = 0;
  let ledger = 0;
  let expectedBalance = 0;
  let usageEntries = 0;
  let monthlyLimitHit = false;
  for (const row of perOrg) {
    const expected = Number(row.purchases) + (grantedByOrg.get(row.org_id) ?? 0) - (debitedByOrg.get(row.org_id) ?? 0);
    if (Number(row.balance ?? 0) !== expected || Number(row.ledger) !== expected || Number(row.other) !== 0) orgsOff++;
    lowest = Math.min(lowest, Number(row.lowest), Number(row.balance ?? 0));
    balance += Number(row.balance ?? 0);
    ledger += Number(row.ledger);
    expectedBalance += expected;
    usageEntries += Number(row.usage);
    if (Number(row.refills_this_month) >= MONTHLY_LIMIT) monthlyLimitHit = true;
  }
  if (usageEntries !== debitsApplied.length) wrong += Math.abs(usageEntries - debitsApplied.length);

  const [{ events }] = await query<{ events: string }>(
    dbUrl,
    `select count(*) as events from stripe_events where type = 'payment_intent.succeeded'`,
  );

  const lifetimes = refills.map((r) => Number(BigInt(r.updated_us) - BigInt(r.created_us)) / 1000);
  const count = (status: string) => refills.filter((r) => r.status === status).length;
  const inFlight = count('pending') + count('processing');
  return {
    held:
      overlaps === 0 &&
      inFlight === 0 &&
      refillsNotGrantedOnce === 0 &&
      orphanEntries === 0 &&
      count('succeeded') > 0 &&
      wrong === 0 &&
      orgsOff === 0 &&
      perOrg.length === orgs.length &&
      lowest >= 0 &&
      tally.answered.size > 0,
    started: refills.length,
    succeeded: count('succeeded'),
    failed: count('failed'),
    inFlight,
    overlaps,
    maxOverlapMs,
    waitedOnGrant,
    maxWaitMs,
    refillsNotGrantedOnce,
    orphanEntries,
    sent: tally.sent.size,
    answered: tally.answered.size,
    refused: sample.statuses['402'] ?? 0,
    applied: debitsApplied.length,
    wrong,
    balance,
    ledger,
    expectedBalance,
    lowest,
    orgsOff,
    succeededEvents: Number(events),
    refillP50Ms: median(lifetimes),
    refillMaxMs: Math.max(0, ...lifetimes),
    monthlyLimitHit,
  };
}
