import type { Sample } from './load';

/** Progress lines on stderr, so that stdout carries only the results. */
export const log = (message: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

/** A usage error: the run does not start. */
export function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

/** Logs each round of an A/B comparison as it ends. */
export const logRound = (name: string) => (side: string, round: number, s: Sample) =>
  log(
    `${name} ${side} #${round}: ${s.rps.toFixed(0)} req/s, p50 ${s.p50} ms, p99 ${s.p99} ms${s.cpu_us_per_request === undefined ? '' : `, ${s.cpu_us_per_request.toFixed(0)} µs CPU/req`}${s.unexpected ? `, unexpected ${s.unexpected} ${JSON.stringify(s.statuses)}` : ''}`,
  );
