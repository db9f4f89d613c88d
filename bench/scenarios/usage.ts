import { randomUUID } from 'node:crypto';
import { query } from '../database';
import { alternate, type LoadSpec, type Rounds } from '../load';
import { logRound } from '../log';
import { compareRow, type Row } from '../table-rows';
import { authHeaders, creditsPath } from '../requests';
import { USAGE_ORGS, type SeededOrg } from '../seed';
import type { Stack } from '../stack';

/** Each org starts with this much: no debit of the run is ever refused. */
const INITIAL = 1_000_000_000_000;
/** Live grants per org in the many-grants runs. */
const GRANTS_PER_ORG = 20;

export interface UsageCheck {
  side: 'api' | 'floor';
  held: boolean;
  /** Debits sent, and answered 200. */
  sent: number;
  answered: number;
  /** Debits the database holds (answered ones, plus any cut off in flight when a round ended), and their credits. */
  applied: number;
  appliedCredits: number;
  /** Answered 200 but missing, applied with another amount, or applied without being sent (or twice). */
  wrong: number;
  balance: number;
  expectedBalance: number;
  ledger: number;
  lowest: number;
  orgsOff: number;
}

export interface UsageResult {
  label: string;
  orgs: number;
  row: Row;
  checks: UsageCheck[];
}

/**
 * `POST …/credits/usage` with distinct idempotency keys and 50 connections: every debit on one
 * org (they all queue on its balance row: the case group commit exists for), then dealt over
 * 16 orgs. The floor is a bare Fastify handler doing the naive debit per request on raw pg
 * (conditional UPDATE of the balance + INSERT of the entry, one statement, one commit), on
 * orgs of its own. Both sides must end exact: no debit twice, no balance below zero, each
 * org's balance = initial − Σ accepted = Σ ledger.
 */
export async function usageScenarios(stack: Stack, rounds: Rounds): Promise<UsageResult[]> {
  const { usageOrgs, usageFloorOrgs } = stack.seeded;
  const spread = Array.from({ length: USAGE_ORGS }, (_, i) => i + 1);
  const next = USAGE_ORGS + 1;
  // The same two runs with 20 live grants per org (mixed priority, expiry and category): what
  // sorting and drawing from many grants costs each debit, against the same floor.
  const runs = [
    { label: 'one org', indexes: [0], minRps: 3000, grants: 1 },
    { label: `${USAGE_ORGS} orgs`, indexes: spread, minRps: 5000, grants: 1 },
    { label: 'one org, 20 grants', indexes: [next], minRps: 3000, grants: GRANTS_PER_ORG },
    {
      label: `${USAGE_ORGS} orgs, 20 grants`,
      indexes: spread.map((i) => next + i),
      minRps: 5000,
      grants: GRANTS_PER_ORG,
    },
  ];
  const results: UsageResult[] = [];
  for (const { label, indexes, minRps, grants } of runs) {
    const apiOrgs = indexes.map((i) => usageOrgs[i]);
    const floorOrgs = indexes.map((i) => usageFloorOrgs[i]);
    await fund(stack.dbUrl, [...apiOrgs, ...floorOrgs], grants);
    const apiTally = new Tally();
    const floorTally = new Tally();
    const comparison = await alternate(
      {
        measured: {
          ...debits(stack.api.url, apiOrgs, (org) => `${creditsPath(org.slug)}/usage`, apiTally),
          pid: stack.api.child.pid,
        },
        floor: {
          ...debits(stack.floor.url, floorOrgs, (_org, n) => `/usage/${indexes[n]}`, floorTally),
          pid: stack.floor.child.pid,
        },
      },
      rounds,
      logRound(`usage (${label})`),
    );
    await settle(stack.dbUrl, [...apiOrgs, ...floorOrgs]);
    const checks = [
      await check(stack.dbUrl, 'api', apiOrgs, apiTally),
      await check(stack.dbUrl, 'floor', floorOrgs, floorTally),
    ];
    const row = compareRow(`usage (${label})`, comparison, { ratio: 1, minRps });
    if (checks.some((c) => !c.held)) row.met = false;
    results.push({ label, orgs: indexes.length, row, checks });
  }
  return results;
}

/** What the load generator sent, and which of it was answered 200. */
export class Tally {
  readonly sent = new Map<string, { org: string; amount: number }>();
  readonly answered = new Set<string>();
}

/** Debits of 1–9 credits, each with a fresh key, dealt round-robin over `orgs`; 200s are tallied. */
export function debits(
  url: string,
  orgs: SeededOrg[],
  pathOf: (org: SeededOrg, index: number) => string,
  tally: Tally,
): LoadSpec {
  let next = 0;
  return {
    url,
    expect: [200],
    requests: [
      {
        method: 'POST',
        setupRequest: (request, context) => {
          const n = next++;
          const index = n % orgs.length;
          const amount = 1 + (n % 9);
          const key = randomUUID();
          tally.sent.set(key, { org: orgs[index].id, amount });
          // One request in flight per connection: its context carries what the answer needs.
          context.key = key;
          return {
            ...request,
            path: pathOf(orgs[index], index),
            body: JSON.stringify({ amount }),
            headers: {
              ...authHeaders(orgs[index].key),
              'content-type': 'application/json',
              'idempotency-key': key,
            },
          };
        },
        onResponse: (status, _body, context) => {
          if (status === 200) tally.answered.add(context.key as string);
        },
      },
    ],
  };
}

/**
 * Gives each org INITIAL credits, as an entry, its balance and `grants` grants (balance = Σ
 * ledger = Σ grants from the start). With several, they mix priorities (0, 50, 90), expiries
 * (10 to 40 days away, or never) and categories, as a credits product's orgs hold them, so a
 * debit sorts and draws from many; none expires during the run.
 */
async function fund(dbUrl: string, orgs: SeededOrg[], grants = 1): Promise<void> {
  const ids = orgs.map((o) => o.id);
  await query(
    dbUrl,
    `with entries as (
       insert into credit_ledger (org_id, amount, balance_after, transaction_type, description, source_ref)
       select id, $2::bigint, $2::bigint, 'admin_adjustment', 'bench funding', 'admin:bench-usage:' || id
       from unnest($1::uuid[]) as id
       on conflict (source_ref) do nothing
       returning org_id, id),
     grants as (
       insert into credit_grants (org_id, amount, remaining, category, source, source_ref, ledger_entry_id, priority, expires_at)
       select e.org_id, $2::bigint / $3 + case when n = 1 then $2::bigint % $3 else 0 end,
              $2::bigint / $3 + case when n = 1 then $2::bigint % $3 else 0 end,
              case when n % 2 = 0 then 'promotional' else 'paid' end, 'admin',
              'admin:bench-usage:' || e.org_id || case when n = 1 then '' else ':' || n end, e.id,
              (array[0, 50, 90])[1 + n % 3],
              case when $3::int = 1 or n % 4 = 0 then null else now() + make_interval(days => 10 + n % 31) end
       from entries e cross join generate_series(1, $3::int) as n)
     insert into credit_balances (org_id, balance, next_expiry_at)
     select org_id, $2::bigint, case when $3::int > 1 then now() + interval '10 days' end from entries`,
    [ids, INITIAL, grants],
  );
}

/**
 * Waits until the debits cut off in flight at the end of the last round have all landed (the
 * server keeps working on a request whose client went away), so the checks read a still ledger.
 */
async function settle(dbUrl: string, orgs: SeededOrg[]): Promise<void> {
  let last = -1;
  for (let i = 0; i < 120; i++) {
    const [{ n }] = await query<{ n: string }>(
      dbUrl,
      `select count(*) as n from credit_ledger where org_id = any($1::uuid[])`,
      [orgs.map((o) => o.id)],
    );
    if (Number(n) === last) return;
    last = Number(n);
    await new Promise((done) => setTimeout(done, 500));
  }
}

/**
 * The run against the database, key by key: every debit answered 200 is there once with its
 * amount, nothing is there that was not sent (or twice), and each org's balance is its initial
 * credits minus what was applied, equal to Σ ledger, never below zero. A round ends with up to
 * 50 requests in flight whose answers the load generator drops: applied but unanswered, they
 * count as applied (the server accepted them), never as wrong.
 */
async function check(dbUrl: string, side: 'api' | 'floor', orgs: SeededOrg[], tally: Tally): Promise<UsageCheck> {
  const ids = orgs.map((o) => o.id);
  // The API's debits are its usage records (each with its one entry, checked below); the floor's, its entries.
  const applied = await query<{ org_id: string; key: string; amount: string; entries: string }>(
    dbUrl,
    side === 'api'
      ? `select u.org_id, u.idempotency_key as key, u.debited as amount,
                (select count(*) from credit_ledger l where l.source_ref = 'usage:' || u.id and l.amount = -u.debited) as entries
           from usage_records u where u.org_id = any($1::uuid[])`
      : `select org_id, substr(source_ref, length('floor-usage:') + 1) as key, -amount as amount, 1 as entries
           from credit_ledger where org_id = any($1::uuid[]) and source_ref like 'floor-usage:%'`,
    [ids],
  );
  const perOrg = await query<{
    org_id: string;
    balance: string | null;
    ledger: string;
    granted: string;
    lowest: string;
    usage: string;
  }>(
    dbUrl,
    `select o.id as org_id,
            (select balance from credit_balances b where b.org_id = o.id) as balance,
            (select coalesce(sum(remaining), 0) from credit_grants g where g.org_id = o.id) as granted,
            (select coalesce(sum(amount), 0) from credit_ledger l where l.org_id = o.id) as ledger,
            (select coalesce(min(balance_after), 0) from credit_ledger l where l.org_id = o.id) as lowest,
            (select count(*) from credit_ledger l where l.org_id = o.id and transaction_type = 'usage') as usage
       from organizations o where o.id = any($1::uuid[])`,
    [ids],
  );

  let wrong = 0;
  const seen = new Set<string>();
  const appliedCredits = new Map<string, number>();
  for (const row of applied) {
    const sent = tally.sent.get(row.key);
    if (!sent || sent.org !== row.org_id || sent.amount !== Number(row.amount) || seen.has(row.key)) wrong++;
    else if (Number(row.entries) !== 1) wrong++;
    seen.add(row.key);
    appliedCredits.set(row.org_id, (appliedCredits.get(row.org_id) ?? 0) + Number(row.amount));
  }
  for (const key of tally.answered) if (!seen.has(key)) wrong++;

  let orgsOff = 0;
  let lowest = Number.POSITIVE_INFINITY;
  let balance = 0;
  let ledger = 0;
  let usageEntries = 0;
  for (const row of perOrg) {
    const expected = INITIAL - (appliedCredits.get(row.org_id) ?? 0);
    if (Number(row.balance ?? 0) !== expected || Number(row.ledger) !== expected) orgsOff++;
    // The API draws each debit from grants: what they have left is the balance too.
    else if (side === 'api' && Number(row.granted) !== expected) orgsOff++;
    lowest = Math.min(lowest, Number(row.lowest));
    balance += Number(row.balance ?? 0);
    ledger += Number(row.ledger);
    usageEntries += Number(row.usage);
  }
  const total = [...appliedCredits.values()].reduce((a, b) => a + b, 0);
  // No usage entry beyond the debits counted (an entry written twice would show here).
  if (usageEntries !== applied.length) wrong += Math.abs(usageEntries - applied.length);
  return {
    side,
    held: wrong === 0 && orgsOff === 0 && perOrg.length === orgs.length && lowest >= 0 && tally.answered.size > 0,
    sent: tally.sent.size,
    answered: tally.answered.size,
    applied: applied.length,
    appliedCredits: total,
    wrong,
    balance,
    expectedBalance: INITIAL * orgs.length - total,
    ledger,
    lowest,
    orgsOff,
  };
}
