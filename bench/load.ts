import autocannon, { Request, Result } from 'autocannon';
import { cpuSecondsOf, type Service } from './processes';

export const CONNECTIONS = 50;

/** One kind of load: where it goes, what it sends, which statuses are expected. */
export interface LoadSpec {
  url: string;
  requests: Request[];
  /** Statuses that are the point of the scenario; anything else (and any socket error) is counted. */
  expect: number[];
  /** The server process answering: its CPU time per request is measured too (Linux). */
  pid?: number;
}

export interface Sample {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** Responses whose status was not expected, plus socket errors and timeouts. */
  unexpected: number;
  statuses: Record<string, number>;
  seconds: number;
  /**
   * The server's CPU time (user + system) per answered request, in µs, when its pid is known.
   * Unlike req/s it does not move with what else the shared cores are running (the load
   * generator, PostgreSQL, other work), so it tells small changes apart.
   */
  cpu_us_per_request?: number;
}

export async function runLoad(
  spec: LoadSpec,
  limit: { seconds: number } | { amount: number },
  connections = CONNECTIONS,
): Promise<Sample> {
  const started = performance.now();
  const cpuBefore = cpuSecondsOf(spec.pid);
  let lastResponse = started;
  // autocannon ends a fixed-amount run on its next one-second tick: time the responses instead.
  const requests = spec.requests.map((request) => ({
    ...request,
    onResponse: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => {
      lastResponse = performance.now();
      request.onResponse?.(status, body, context, headers);
    },
  }));
  const result: Result = await autocannon({
    url: spec.url,
    connections,
    timeout: 30,
    requests,
    ...('seconds' in limit ? { duration: limit.seconds } : { amount: limit.amount }),
  });
  const statuses: Record<string, number> = {};
  let total = 0;
  let unexpected = result.errors + result.timeouts;
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) {
    statuses[status] = Number(count);
    total += Number(count);
    if (!spec.expect.includes(Number(status))) unexpected += Number(count);
  }
  const seconds = 'amount' in limit ? (lastResponse - started) / 1000 : result.duration;
  const cpuAfter = cpuSecondsOf(spec.pid);
  return {
    ...(cpuBefore !== undefined &&
      cpuAfter !== undefined &&
      total > 0 && { cpu_us_per_request: ((cpuAfter - cpuBefore) * 1e6) / total }),
    rps: seconds > 0 ? total / seconds : 0,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: total,
    unexpected,
    statuses,
    seconds,
  };
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** How an A/B comparison runs: rounds of `seconds` each, after a warm-up of each side. */
export interface Rounds {
  rounds: number;
  seconds: number;
  warmupSeconds: number;
}

/** The sides of a comparison: the service, its floors, and (for HTTP routes) the same floors on Nest. */
export interface Sides<T> {
  /** The service under test. */
  measured: T;
  /** The bare floor on Fastify. */
  floor: T;
  /** The same-work floor on Fastify: the service's essential I/O (see floors/floor-work.ts). */
  sameWork?: T;
  /** The bare floor on bare Nest (the Fastify adapter, nothing else). */
  nestFloor?: T;
  /** The same-work floor on bare Nest: what the service would cost if our code cost nothing. */
  nestSameWork?: T;
  /** The service built from another commit (`--baseline`): a change's before, in the same run. */
  baseline?: T;
}

export type Comparison = Sides<Sample[]>;

/**
 * The sides of an HTTP route: the API (and `--baseline`'s build) at `apiPath`, each floor at
 * `floorPath` (bare) and `/same<floorPath>` (the API's essential I/O), each spec carrying the pid
 * of the process that answers it, so that its CPU per request is measured.
 */
export function routeSides(
  servers: { api: Service; floor: Service; nestFloor: Service; baseline?: Service },
  apiPath: string,
  floorPath: string,
  spec: (url: string, path: string) => LoadSpec,
): Sides<LoadSpec> {
  const on = (server: Service, path: string): LoadSpec => ({ ...spec(server.url, path), pid: server.child.pid });
  const { api, floor, nestFloor, baseline } = servers;
  return {
    measured: on(api, apiPath),
    floor: on(floor, floorPath),
    sameWork: on(floor, `/same${floorPath}`),
    nestFloor: on(nestFloor, floorPath),
    nestSameWork: on(nestFloor, `/same${floorPath}`),
    baseline: baseline && on(baseline, apiPath),
  };
}

const SIDE_NAMES: Record<keyof Sides<unknown>, string> = {
  measured: 'measured',
  floor: 'floor',
  sameWork: 'same-work',
  nestFloor: 'nest floor',
  nestSameWork: 'nest same-work',
  baseline: 'baseline',
};

/**
 * Alternates every side in turn, round after round, after one discarded warm-up of each, so
 * drifting background load on a shared machine hits every side alike.
 */
export async function alternate(
  specs: Sides<LoadSpec>,
  options: Rounds,
  onRound?: (side: string, round: number, sample: Sample) => void,
): Promise<Comparison> {
  const sides = (Object.keys(SIDE_NAMES) as Array<keyof Sides<unknown>>)
    .filter((name) => specs[name] !== undefined)
    .map((name) => ({ name, spec: specs[name]!, samples: [] as Sample[] }));
  for (const { spec } of sides) await runLoad(spec, { seconds: options.warmupSeconds });
  for (let round = 1; round <= options.rounds; round++) {
    for (const { name, spec, samples } of sides) {
      const sample = await runLoad(spec, { seconds: options.seconds });
      samples.push(sample);
      onRound?.(SIDE_NAMES[name], round, sample);
    }
  }
  return Object.fromEntries(sides.map(({ name, samples }) => [name, samples])) as unknown as Comparison;
}
