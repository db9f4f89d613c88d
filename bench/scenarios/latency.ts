import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { log } from '../log';
import { median } from '../load';
import { runOpenLoop, type OpenLoopSample, type OpenLoopSpec } from '../open-loop';
import type { Row } from '../table-rows';
import { authHeaders, CHECKOUT_BODY, creditsPath } from '../requests';
import type { Stack } from '../stack';

/** Open-loop runs: every side of a route at the same fixed rate, in turn. */
export interface LatencyOptions {
  rates: number[];
  seconds: number;
  rounds: number;
  /** A discarded warm-up of each side at each rate first (`--quick` skips it: it proves the harness only). */
  warmUp: boolean;
}

/** Three times what the emulator was seen to keep busy after a forced collection. */
const SETTLE_MS = 300;

/** The sides of a latency round, in the order they take turns. */
const SIDES = ['api', 'floor', 'sameWork'] as const;

/**
 * Every side's checkout calls the one Stripe emulator, whose heap grows with every session it
 * keeps (~160 MB after the checkout scenario). Its full collections then take 100–200 ms of
 * marking on both cores, and whichever side's round one lands in reads it as its p99 (traced:
 * the API's 106 ms round at 300/s held the emulator's only mark-compact of the phase). A
 * collection before each timed round, on every side alike, starts each round with the
 * double's heap collected, so that one of its full collections is unlikely to start inside a
 * round (not impossible: its heap still grows; its minor collections still do). The API's and
 * the floors' own collections stay in the measurement.
 *
 * The collection's answer is not its end: for ~100 ms after it the emulator used more than a
 * core (per-process CPU every 20 ms), and the first 50–190 ms of every checkout round, on
 * every side, answered in 20–95 ms. So the round starts `SETTLE_MS` after the answer.
 */
async function collectEmulatorGarbageAndSettle(url: string): Promise<void> {
  const res = await fetch(`${url}/_emulator/gc`, { method: 'POST' });
  if (!res.ok) throw new Error(`emulator gc answered ${res.status}: ${await res.text()}`);
  await delay(SETTLE_MS);
}

/**
 * Latency at fixed arrival rates (open loop, `open-loop.ts`) for checkout 200 and balance:
 * the API, its bare floor and its same-work floor at the same rate, alternated. What the
 * server adds is the API's p50/p99 minus the bare floor's at that rate; beside it, the
 * same-work floor's, minus the bare floor's, is what the design's I/O alone adds.
 */
export async function latencyScenario(
  { api, floor, seeded, emulator }: Stack,
  options: LatencyOptions,
): Promise<Row[]> {
  const checkout = (url: string, path: string): OpenLoopSpec => ({
    url,
    expect: [200],
    next: () => ({
      method: 'POST',
      path,
      headers: {
        ...authHeaders(seeded.key),
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      body: CHECKOUT_BODY,
    }),
  });
  const balance = (url: string, path: string): OpenLoopSpec => ({
    url,
    expect: [200],
    next: () => ({ method: 'GET', path, headers: authHeaders(seeded.key) }),
  });
  const routes = [
    {
      name: 'checkout 200',
      api: checkout(api.url, `${creditsPath(seeded.orgSlug)}/checkout`),
      floor: checkout(floor.url, '/checkout'),
      sameWork: checkout(floor.url, '/same/checkout'),
    },
    {
      name: 'balance',
      api: balance(api.url, creditsPath(seeded.orgSlug)),
      floor: balance(floor.url, '/balance'),
      sameWork: balance(floor.url, '/same/balance'),
    },
  ];
  const rows: Row[] = [];
  for (const route of routes) {
    for (const rate of options.rates) {
      // Warm-up at each rate, discarded: run alone (`--only latency`) the API meets the route
      // cold, and its first second at a higher rate than before costs it far more CPU than the
      // seconds after (measured, cause not found); either would read as queueing in round 1.
      if (options.warmUp) {
        for (const side of SIDES) await runOpenLoop(route[side], rate, 1);
      }
      const sides = { api: [] as OpenLoopSample[], floor: [] as OpenLoopSample[], sameWork: [] as OpenLoopSample[] };
      for (let round = 1; round <= options.rounds; round++) {
        for (const side of SIDES) {
          await collectEmulatorGarbageAndSettle(emulator.url);
          const sample = await runOpenLoop(route[side], rate, options.seconds);
          sides[side].push(sample);
          log(
            `${route.name} @${rate}/s ${side} #${round}: ${sample.rps.toFixed(0)} answers/s, p50 ${sample.p50} ms, p99 ${sample.p99} ms` +
              (sample.unexpected ? `, unexpected ${sample.unexpected} ${JSON.stringify(sample.statuses)}` : ''),
          );
        }
      }
      const addedP99 = addedP99Target(rate);
      rows.push(latencyRow(`${route.name} @ ${rate}/s (open loop)`, sides, `+p99 ≤ ${addedP99} ms`, addedP99));
    }
  }
  return rows;
}

/** What the server may add to the floor's p99 at a rate: 5 ms up to 100 req/s, 10 ms up to 300. */
function addedP99Target(rate: number): number {
  return rate <= 100 ? 5 : 10;
}

function latencyRow(
  scenario: string,
  sides: { api: OpenLoopSample[]; floor: OpenLoopSample[]; sameWork: OpenLoopSample[] },
  target: string,
  addedP99: number | undefined,
): Row {
  const of = (samples: OpenLoopSample[], pick: (s: OpenLoopSample) => number) => median(samples.map(pick));
  const p50 = of(sides.api, (s) => s.p50);
  const p99 = of(sides.api, (s) => s.p99);
  const floorP50 = of(sides.floor, (s) => s.p50);
  const floorP99 = of(sides.floor, (s) => s.p99);
  const sameRps = of(sides.sameWork, (s) => s.rps);
  const sameP50 = of(sides.sameWork, (s) => s.p50);
  const sameP99 = of(sides.sameWork, (s) => s.p99);
  const rps = of(sides.api, (s) => s.rps);
  const floorRps = of(sides.floor, (s) => s.rps);
  return {
    scenario,
    rps,
    p50_ms: p50,
    p99_ms: p99,
    floor_rps: floorRps,
    floor_p50_ms: floorP50,
    floor_p99_ms: floorP99,
    ratio: null,
    added_p50_ms: p50 - floorP50,
    added_p99_ms: p99 - floorP99,
    unexpected: [...sides.api, ...sides.floor, ...sides.sameWork].reduce((n, s) => n + s.unexpected, 0),
    target,
    met: addedP99 === undefined ? null : p99 - floorP99 <= addedP99,
    open_loop: { same_work_rps: sameRps, same_work_p50_ms: sameP50, same_work_p99_ms: sameP99, samples: sides },
  };
}
