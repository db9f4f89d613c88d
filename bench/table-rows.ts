import { median, type Comparison, type Sample } from './load';
import type { OpenLoopSample } from './open-loop';

/** One line of the table. */
export interface Row {
  scenario: string;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  floor_rps: number | null;
  floor_p50_ms: number | null;
  floor_p99_ms: number | null;
  ratio: number | null;
  /** Our p99 minus the floor's. */
  added_p99_ms: number | null;
  /** Our p50 minus the floor's (open-loop rows). */
  added_p50_ms?: number;
  unexpected: number;
  target: string;
  met: boolean | null;
  /** The same-work floor (the service's essential I/O on raw `pg`), when the scenario has one. */
  same_work?: SameWork;
  /** The floors on bare Nest, and our cost against them (HTTP scenarios). */
  nest?: NestFloors;
  rounds?: Comparison;
  /** Open-loop rows: the same-work floor at the row's rate, and every sample of each side. */
  open_loop?: {
    same_work_rps: number;
    same_work_p50_ms: number;
    same_work_p99_ms: number;
    samples: Record<string, OpenLoopSample[]>;
  };
}

/** A miss split in two: what the design's I/O costs, and what the framework around it costs. */
export interface SameWork {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  /** Same-work floor ÷ bare floor (req/s): what the essential I/O leaves of the bare floor. */
  design: number;
  /** Service ÷ same-work floor (req/s): what the framework and the code around the I/O leave. */
  framework: number;
}

/**
 * The same floors on bare Nest beside those on bare Fastify: Nest's own share, and ours.
 * `our_cost` = service ÷ same-work on Nest: 1.0 would mean our code around the I/O costs nothing.
 */
export interface NestFloors {
  bare_fastify_rps: number;
  bare_nest_rps: number;
  same_fastify_rps: number;
  same_nest_rps: number;
  /** Bare Nest ÷ bare Fastify: what the framework itself leaves. */
  nest_share: number;
  our_cost: number;
  /** `--baseline`: that build's req/s and its own cost, beside this build's. */
  baseline_rps?: number;
  baseline_our_cost?: number;
  /**
   * Server CPU per request (µs, medians of the rounds), when /proc tells it: the API's, the
   * same-work Nest floor's, and our cost by CPU (same-work Nest ÷ API), the figure that stays
   * steady when the shared cores are busy with other work and req/s swing.
   */
  cpu?: { api_us: number; same_nest_us: number; our_cost: number; baseline_us?: number };
}

/** The HTTP routes' target: our code leaves at least 0.8× of the same work on bare Nest. */
export const OUR_COST_TARGET = { ourCost: 0.8 };

export const mib = (bytes: number | null) => (bytes === null ? 'n/a' : (bytes / 2 ** 20).toFixed(1));

/**
 * Medians of the rounds against the floors'. Met when every given target holds: the ratio to the
 * bare floor, the added p99, the rate, and our cost (service ÷ same work on bare Nest).
 */
export function compareRow(
  scenario: string,
  c: Comparison,
  target: { ratio?: number; addedP99?: number; minRps?: number; ourCost?: number },
): Row {
  const rpsOf = (samples: Sample[]) => median(samples.map((s) => s.rps));
  const rps = rpsOf(c.measured);
  const floorRps = rpsOf(c.floor);
  const p99 = median(c.measured.map((s) => s.p99));
  const floorP99 = median(c.floor.map((s) => s.p99));
  const ratio = rps / floorRps;
  const added = p99 - floorP99;
  const sameRps = c.sameWork && rpsOf(c.sameWork);
  const cpuOf = (samples: Sample[] | undefined) => {
    const values = (samples ?? []).flatMap((s) => (s.cpu_us_per_request === undefined ? [] : [s.cpu_us_per_request]));
    return values.length > 0 && values.length === samples!.length ? median(values) : undefined;
  };
  const apiCpu = cpuOf(c.measured);
  const sameNestCpu = cpuOf(c.nestSameWork);
  const baselineCpu = cpuOf(c.baseline);
  const nest: NestFloors | undefined =
    c.sameWork && c.nestFloor && c.nestSameWork
      ? {
          bare_fastify_rps: floorRps,
          bare_nest_rps: rpsOf(c.nestFloor),
          same_fastify_rps: rpsOf(c.sameWork),
          same_nest_rps: rpsOf(c.nestSameWork),
          nest_share: rpsOf(c.nestFloor) / floorRps,
          our_cost: rps / rpsOf(c.nestSameWork),
          ...(c.baseline && {
            baseline_rps: rpsOf(c.baseline),
            baseline_our_cost: rpsOf(c.baseline) / rpsOf(c.nestSameWork),
          }),
          ...(apiCpu !== undefined &&
            sameNestCpu !== undefined && {
              cpu: {
                api_us: apiCpu,
                same_nest_us: sameNestCpu,
                our_cost: sameNestCpu / apiCpu,
                ...(baselineCpu !== undefined && { baseline_us: baselineCpu }),
              },
            }),
        }
      : undefined;
  const met =
    (target.ratio === undefined || ratio >= target.ratio) &&
    (target.addedP99 === undefined || added <= target.addedP99) &&
    (target.minRps === undefined || rps >= target.minRps) &&
    (target.ourCost === undefined || (nest !== undefined && nest.our_cost >= target.ourCost));
  const targets = [
    target.ratio === undefined ? undefined : `≥ ${target.ratio}×`,
    target.addedP99 === undefined ? undefined : `+p99 ≤ ${target.addedP99} ms`,
    target.minRps === undefined ? undefined : `≥ ${target.minRps}/s`,
    target.ourCost === undefined ? undefined : `our cost ≥ ${target.ourCost}×`,
  ].filter(Boolean);
  const samples = Object.values(c).flat() as Sample[];
  return {
    ...(c.sameWork &&
      sameRps !== undefined && {
        same_work: {
          rps: sameRps,
          p50_ms: median(c.sameWork.map((s) => s.p50)),
          p99_ms: median(c.sameWork.map((s) => s.p99)),
          design: sameRps / floorRps,
          framework: rps / sameRps,
        },
      }),
    ...(nest && { nest }),
    scenario,
    rps,
    p50_ms: median(c.measured.map((s) => s.p50)),
    p99_ms: p99,
    floor_rps: floorRps,
    floor_p50_ms: median(c.floor.map((s) => s.p50)),
    floor_p99_ms: floorP99,
    ratio,
    added_p99_ms: added,
    unexpected: samples.reduce((n, s) => n + s.unexpected, 0),
    target: targets.join(', '),
    met,
    rounds: c,
  };
}

/** A scenario without a floor: one sample against its target. */
export function sampleRow(scenario: string, s: Sample, target: string, met: boolean | null): Row {
  return {
    scenario,
    rps: s.rps,
    p50_ms: s.p50,
    p99_ms: s.p99,
    floor_rps: null,
    floor_p50_ms: null,
    floor_p99_ms: null,
    ratio: null,
    added_p99_ms: null,
    unexpected: s.unexpected,
    target,
    met,
  };
}

/** The table, then the webhook exactly-once checks and the soak's memory, on stdout. */
