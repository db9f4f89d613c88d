import { randomUUID } from 'node:crypto';
import { query } from '../database';
import { runLoad, type LoadSpec, type Sample } from '../load';
import { log } from '../log';
import { cpuSecondsOf } from '../processes';
import { sampleRow, type Row } from '../table-rows';
import { authHeaders, CANCEL_URL, creditsPath, post, SUCCESS_URL } from '../requests';
import { WEBHOOK_ORGS, type SeededOrg } from '../seed';
import type { Stack } from '../stack';

export interface WebhookResult {
  label: string;
  orgs: number;
  rows: Row[];
  outcomes: Record<string, number>;
  exactlyOnce: {
    held: boolean;
    sessions: number;
    grantedOnce: number;
    notOnce: number;
    /** Summed over the scenario's orgs. */
    balance: number;
    expectedBalance: number;
    /** Orgs whose balance is not the sum of their sessions' credits. */
    orgsOff: number;
  };
}

interface SignedEvent {
  payload: string;
  signature: string;
}

/** The webhook scenario twice: every event for one org (the worst case), then dealt over many. */
export async function webhookScenarios(stack: Stack, count: number): Promise<WebhookResult[]> {
  const { seeded } = stack;
  await warmUp(stack, seeded.webhookWarmUpOrg, Math.max(1, Math.round(count / 2)));
  const results: WebhookResult[] = [];
  // One org's grants queue on its balance row (each entry carries balance_after), so its
  // target is lower than the spread case's.
  for (const [label, orgs, target] of [
    ['one org', [seeded.webhookOrg], 400],
    [`${WEBHOOK_ORGS} orgs`, seeded.webhookOrgs, 500],
  ] as const) {
    results.push(await webhookScenario(stack, label, orgs, count, target));
  }
  return results;
}

/**
 * Deliveries to an org of their own, first and again, before either timed run, neither timed
 * nor checked. Without them the first timed run paid for the API's warm-up (its code compiled
 * and optimised, each connection's statements prepared, the job queues' first use): run first,
 * one org cost the API 1.2–2.1 ms of CPU an event more than the 16 orgs run after it, and
 * with the two runs swapped the 16 orgs paid it instead.
 */
async function warmUp(stack: Stack, org: SeededOrg, count: number): Promise<void> {
  log(`webhook: warming up with ${count} events of an org of their own`);
  const events = await paidEvents(stack, 'warm-up', [org], count);
  const outcomes: Record<string, number> = {};
  for (let round = 0; round < 2; round++) {
    await runLoad(deliveries(stack.api.url, undefined, events, outcomes), { amount: count });
  }
  // Untimed, but not unheard: a warm-up that failed would leave the timed runs cold again.
  if (outcomes.processed !== count || outcomes.duplicate !== count) {
    throw new Error(`webhook warm-up: ${count} events twice answered ${JSON.stringify(outcomes)}`);
  }
  await jobsDrained(stack.dbUrl);
}

/**
 * Distinct paid sessions, dealt round-robin to `orgs`: each `checkout.session.completed` is
 * posted once (first deliveries), then all of them again (duplicates). Every session must end
 * up granted exactly once and every org's balance must be the sum of its grants. One org is
 * the worst case (its grants queue on its balance row); many orgs show what the rest costs.
 */
async function webhookScenario(
  stack: Stack,
  label: string,
  orgs: readonly SeededOrg[],
  count: number,
  target: number,
): Promise<WebhookResult> {
  const { api, dbUrl, emulator } = stack;
  const events = await paidEvents(stack, label, orgs, count);
  const outcomes: Record<string, number> = {};
  const pid = api.child.pid;
  log(`webhook (${label}): first deliveries`);
  const before = { api: cpuSecondsOf(pid), emulator: cpuSecondsOf(emulator.child.pid) };
  const firstRun = await runLoad(deliveries(api.url, pid, events, outcomes), { amount: count });
  const emulatorUs = cpuPerEvent(before.emulator, cpuSecondsOf(emulator.child.pid), count);
  log(`webhook (${label}) first: ${rate(firstRun)}${emulatorUs ? ` (the emulator ${emulatorUs})` : ''}`);
  // What the grants left to jobs runs after them, partly outside the timed window: the CPU
  // until the queue is empty is what a grant costs in all.
  const drained = await jobsDrained(dbUrl);
  const allUs = cpuPerEvent(before.api, cpuSecondsOf(pid), count);
  if (allUs) log(`webhook (${label}) first, with the jobs they caused (${drained}): the API ${allUs} of CPU an event`);
  log(`webhook (${label}): the same events again`);
  const againRun = await runLoad(deliveries(api.url, pid, events, outcomes), { amount: count });
  log(`webhook (${label}) duplicates: ${rate(againRun)}`);

  const exactlyOnce = await checkExactlyOnce(dbUrl, orgs, count, outcomes);
  const { held } = exactlyOnce;
  return {
    label,
    orgs: orgs.length,
    rows: [
      sampleRow(
        `webhook (first delivery, ${label})`,
        firstRun,
        `≥ ${target} events/s, exactly-once`,
        firstRun.rps >= target && held,
      ),
      sampleRow(`webhook (duplicates, ${label})`, againRun, 'exactly-once', held),
    ],
    outcomes,
    exactlyOnce,
  };
}

/** `count` sessions created for `orgs` (round-robin) and paid at the emulator: their signed `checkout.session.completed` events. */
async function paidEvents(
  { api, emulator }: Stack,
  label: string,
  orgs: readonly SeededOrg[],
  count: number,
): Promise<SignedEvent[]> {
  log(`webhook (${label}): creating and paying ${count} sessions`);
  const sessions = await parallel(count, 16, async (i) => {
    const org = orgs[i % orgs.length];
    const res = await post(
      api.url,
      `${creditsPath(org.slug)}/checkout`,
      JSON.stringify({ success_url: SUCCESS_URL, cancel_url: CANCEL_URL, quantity: 1 }),
      { ...authHeaders(org.key), 'idempotency-key': randomUUID() },
    );
    if (res.status !== 200) throw new Error(`webhook setup: checkout answered ${res.status}: ${res.text}`);
    return (JSON.parse(res.text) as { session_id: string; credits: number }).session_id;
  });
  return parallel(count, 16, async (i): Promise<SignedEvent> => {
    const paid = await post(
      emulator.url,
      `/_emulator/sessions/${sessions[i]}/pay`,
      JSON.stringify({ deliver: false }),
      {},
    );
    if (paid.status !== 200) throw new Error(`webhook setup: pay answered ${paid.status}: ${paid.text}`);
    const eventId = (JSON.parse(paid.text) as { events: { id: string; type: string }[] }).events.find(
      (e) => e.type === 'checkout.session.completed',
    )!.id;
    const res = await fetch(`${emulator.url}/_emulator/events/${eventId}`);
    const event = (await res.json()) as { payload: string; signature: string };
    return { payload: event.payload, signature: event.signature };
  });
}

function cpuPerEvent(before: number | undefined, after: number | undefined, events: number): string | undefined {
  return before === undefined || after === undefined
    ? undefined
    : `${(((after - before) * 1e6) / events).toFixed(0)} µs`;
}

/** Waits until no job is queued or running (30 s at most); says how long it took. */
async function jobsDrained(dbUrl: string): Promise<string> {
  const started = performance.now();
  for (;;) {
    const [{ pending }] = await query<{ pending: number }>(
      dbUrl,
      `select count(*)::int as pending from pgboss.job where state in ('created', 'retry', 'active') and start_after <= now()`,
    );
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (pending === 0) return `drained ${seconds} s after`;
    if (performance.now() - started > 30_000) return `${pending} jobs still pending after ${seconds} s`;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Events/s, p99 and the API's CPU per event (jobs it ran meanwhile included). */
function rate(sample: Sample): string {
  const cpu =
    sample.cpu_us_per_request === undefined
      ? ''
      : `, the API ${sample.cpu_us_per_request.toFixed(0)} µs of CPU an event`;
  return `${sample.rps.toFixed(0)} events/s, p99 ${sample.p99} ms${cpu}`;
}

/** Each event once, in order, counting the API's answers by `outcome` (or status). */
function deliveries(
  url: string,
  pid: number | undefined,
  events: SignedEvent[],
  outcomes: Record<string, number>,
): LoadSpec {
  let next = 0;
  return {
    url,
    pid,
    expect: [200],
    requests: [
      {
        method: 'POST',
        path: '/api/v1/stripe/webhook',
        setupRequest: (request) => {
          const event = events[next++ % events.length];
          return {
            ...request,
            body: event.payload,
            headers: { 'content-type': 'application/json', 'stripe-signature': event.signature },
          };
        },
        onResponse: (status, body) => {
          let outcome = `status ${status}`;
          try {
            outcome = (JSON.parse(body) as { outcome?: string }).outcome ?? outcome;
          } catch {
            // counted under its status
          }
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        },
      },
    ],
  };
}

/** Every session granted once in the ledger, every org's balance the sum of its sessions' credits. */
async function checkExactlyOnce(
  dbUrl: string,
  orgs: readonly SeededOrg[],
  count: number,
  outcomes: Record<string, number>,
): Promise<WebhookResult['exactlyOnce']> {
  const perOrg = await query<{ sessions: string; once: string; balance: string | null; expected: string | null }>(
    dbUrl,
    `select count(*) as sessions,
            count(*) filter (where (select count(*) from credit_ledger l where l.source_ref = 'purchase:' || s.id) = 1) as once,
            (select balance from credit_balances b where b.org_id = s.org_id) as balance,
            sum(s.credits) as expected
       from checkout_sessions s where s.org_id = any($1::uuid[])
      group by s.org_id`,
    [orgs.map((o) => o.id)],
  );
  const sum = (pick: (row: (typeof perOrg)[number]) => string | null) =>
    perOrg.reduce((n, row) => n + Number(pick(row) ?? 0), 0);
  const sessions = sum((r) => r.sessions);
  const grantedOnce = sum((r) => r.once);
  const balance = sum((r) => r.balance);
  const expectedBalance = sum((r) => r.expected);
  const orgsOff = perOrg.filter((r) => Number(r.balance ?? 0) !== Number(r.expected ?? 0)).length;
  const held =
    sessions === count &&
    grantedOnce === count &&
    orgsOff === 0 &&
    balance === expectedBalance &&
    (outcomes.processed ?? 0) === count;
  return { held, sessions, grantedOnce, notOnce: sessions - grantedOnce, balance, expectedBalance, orgsOff };
}

async function parallel<T>(count: number, concurrency: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}
