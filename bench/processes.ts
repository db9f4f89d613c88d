import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');

/** A server process the harness started; its output is kept for the error message if it dies. */
export interface Service {
  name: string;
  url: string;
  child: ChildProcess;
  output: string[];
  /** Resident set size in bytes, from /proc (Linux). */
  rss(): number | undefined;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export interface StartOptions {
  name: string;
  /** Path of the compiled entry point, relative to `cwd`. */
  script: string;
  /** Where the process runs (default: this repository's root). */
  cwd?: string;
  env: Record<string, string | undefined>;
  nodeArgs?: string[];
  port: number;
  /** Path answering 2xx once the server is ready. */
  readyPath: string;
  readyTimeoutMs?: number;
  /** Called with every line the process writes. */
  onLine?: (line: string) => void;
}

/** Every server started and not yet exited, ready or not: what a stopped bench must not leave behind. */
const running = new Set<ChildProcess>();

/** Stops whatever is still running, a server still starting included. */
export async function stopAllServices(): Promise<void> {
  await Promise.all([...running].map(stopChild));
}

/** SIGTERM, then SIGKILL if it has not exited 10 s later; resolves once it has exited. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

export async function startService(options: StartOptions): Promise<Service> {
  const cwd = options.cwd ?? REPO_ROOT;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), resolve(cwd, options.script)], {
    cwd,
    env: { ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    const lines = chunk.toString().split('\n').filter(Boolean);
    if (options.onLine) lines.forEach(options.onLine);
    output.push(...lines);
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited: { code: number | null; signal: string | null } | undefined;
  child.once('exit', (code, signal) => (exited = { code, signal }));

  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) {
      throw new Error(
        `${options.name} exited (${exited.code ?? exited.signal}) before it was ready:\n${output.slice(-30).join('\n')}`,
      );
    }
    try {
      const response = await fetch(url + options.readyPath);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `${options.name} not ready after ${options.readyTimeoutMs ?? 60_000} ms:\n${output.slice(-30).join('\n')}`,
      );
    }
    await sleep(100);
  }

  return {
    name: options.name,
    url,
    child,
    output,
    rss: () => rssOf(child.pid),
    stop: () => stopChild(child),
  };
}

export function rssOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * User + system CPU seconds a process has used so far, from /proc (Linux; undefined elsewhere).
 * /proc counts in clock ticks, 100 a second on Linux: a 5 s round of thousands of requests
 * is measured to well under 1%.
 */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), from field 3: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
