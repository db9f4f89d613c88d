import { Agent, request as httpRequest } from 'node:http';

/**
 * An open-loop load generator: requests leave at a fixed rate whatever happens to the ones
 * before them (autocannon is closed-loop: a slow answer delays the next request, which hides
 * queueing). Each request's latency runs from the moment it was due, not from when it could
 * be sent, so a generator or a server falling behind shows up as latency instead of vanishing
 * (coordinated omission). Latencies are kept whole and sorted at the end: at a few hundred
 * requests a second for a few seconds that is exact and cheap.
 */

/** One request of the load; called once per request (fresh headers, e.g. an Idempotency-Key). */
export interface OpenLoopRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface OpenLoopSpec {
  url: string;
  next: () => OpenLoopRequest;
  expect: number[];
}

export interface OpenLoopSample {
  /** Requests per second asked for. */
  rate: number;
  sent: number;
  /** Answers per second over the run (below `rate` when the server fell behind). */
  rps: number;
  p50: number;
  p99: number;
  max: number;
  /** Statuses outside `expect`, socket errors and timeouts. */
  unexpected: number;
  statuses: Record<string, number>;
}

/** Longest a request may take before it counts as failed. */
const TIMEOUT_MS = 30_000;

export async function runOpenLoop(spec: OpenLoopSpec, rate: number, seconds: number): Promise<OpenLoopSample> {
  const target = new URL(spec.url);
  // Keep-alive sockets, as many as the server's answers need: never a cap that would queue
  // requests in the client.
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const total = Math.max(1, Math.round(rate * seconds));
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let unexpected = 0;
  const pending: Promise<void>[] = [];

  const send = (due: number): Promise<void> =>
    new Promise((resolve) => {
      const { method, path, headers, body } = spec.next();
      const finish = (status: string) => {
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (!spec.expect.includes(Number(status))) unexpected++;
        latencies.push(performance.now() - due);
        resolve();
      };
      const req = httpRequest(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method,
          path,
          headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
          timeout: TIMEOUT_MS,
        },
        (res) => {
          res.resume();
          res.once('end', () => finish(String(res.statusCode)));
          res.once('error', () => finish('error'));
        },
      );
      req.once('timeout', () => req.destroy(new Error('timeout')));
      req.once('error', () => finish('error'));
      req.end(body);
    });

  const started = performance.now();
  let sent = 0;
  await new Promise<void>((done) => {
    // A timer every millisecond sends every request that is due by now, each timed from when
    // it was due: a late tick (GC, a busy core) delays the send, and the latency includes it.
    const tick = () => {
      const now = performance.now();
      while (sent < total && started + sent * interval <= now) {
        pending.push(send(started + sent * interval));
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.min(interval, 1));
      else done();
    };
    tick();
  });
  await Promise.all(pending);
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();

  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    rate,
    sent,
    rps: latencies.length / elapsed,
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    max: round(latencies[latencies.length - 1]),
    unexpected,
    statuses,
  };
}
