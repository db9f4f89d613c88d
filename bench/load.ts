import autocannon, { Request, Result } from 'autocannon';

export const CONNECTIONS = 50;

/** One kind of load: where it goes, what it sends, which statuses are expected. */
export interface LoadSpec {
  url: string;
  requests: Request[];
  /** Statuses that are the point of the scenario; anything else (and any socket error) is counted. */
  expect: number[];
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
}

export async function runLoad(
  spec: LoadSpec,
  limit: { seconds: number } | { amount: number },
  connections = CONNECTIONS,
): Promise<Sample> {
  const started = performance.now();
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
  return {
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

export interface Comparison {
  measured: Sample[];
  floor: Sample[];
  /** The same-work floor's rounds, when the scenario has one. */
  sameWork?: Sample[];
}

/**
 * Alternates A B (C) A B (C) … after one discarded warm-up of each, so drifting background
 * load on a shared machine hits every side alike. `sameWork`: the floor doing the service's
 * essential I/O (see floor-server.ts), beside the bare `floor`.
 */
export async function alternate(
  measured: LoadSpec,
  floor: LoadSpec,
  options: Rounds,
  onRound?: (side: 'measured' | 'floor' | 'same-work', round: number, sample: Sample) => void,
  sameWork?: LoadSpec,
): Promise<Comparison> {
  const sides = [
    { side: 'measured' as const, spec: measured, samples: [] as Sample[] },
    { side: 'floor' as const, spec: floor, samples: [] as Sample[] },
    ...(sameWork ? [{ side: 'same-work' as const, spec: sameWork, samples: [] as Sample[] }] : []),
  ];
  for (const { spec } of sides) await runLoad(spec, { seconds: options.warmupSeconds });
  for (let round = 1; round <= options.rounds; round++) {
    for (const { side, spec, samples } of sides) {
      const sample = await runLoad(spec, { seconds: options.seconds });
      samples.push(sample);
      onRound?.(side, round, sample);
    }
  }
  return { measured: sides[0].samples, floor: sides[1].samples, ...(sameWork && { sameWork: sides[2].samples }) };
}
