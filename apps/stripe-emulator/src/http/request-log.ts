import type { IncomingHttpHeaders } from 'node:http';

export interface LoggedRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: unknown;
  at: string;
  /** The status answered; null while in flight or when the connection was dropped. */
  status: number | null;
}

/** Keeps `Authorization` to its scheme and first 8 characters of the credential. */
export function maskAuthorization(value: string): string {
  const space = value.indexOf(' ');
  const scheme = space > 0 ? value.slice(0, space + 1) : '';
  const credential = space > 0 ? value.slice(space + 1) : value;
  return `${scheme}${credential.slice(0, 8)}****`;
}

export function loggableHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    out[name] = name === 'authorization' || name === 'proxy-authorization' ? maskAuthorization(text) : text;
  }
  return out;
}

/** FIFO log of received requests, capped. */
export class RequestLog {
  private entries: LoggedRequest[] = [];

  constructor(private readonly max: number) {}

  add(entry: LoggedRequest): void {
    this.entries.push(entry);
    // Trim in batches: cheaper than a shift() per request.
    if (this.entries.length > this.max + Math.ceil(this.max / 4)) {
      this.entries = this.entries.slice(this.entries.length - this.max);
    }
  }

  list(pathPrefix?: string): LoggedRequest[] {
    const all = this.entries.length > this.max ? this.entries.slice(this.entries.length - this.max) : this.entries;
    return pathPrefix ? all.filter((e) => e.path.startsWith(pathPrefix)) : [...all];
  }

  clear(): void {
    this.entries = [];
  }

  get size(): number {
    return Math.min(this.entries.length, this.max);
  }
}
