import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  event: {
    id: string;
    type: string;
    created: number;
    org: { id: string; slug: string };
    data: Record<string, unknown>;
  };
  /** The status it was answered. */
  status: number;
}

/** The host backend: an HTTP server on an ephemeral port recording each POST it answers. */
export class Receiver {
  readonly received: Received[] = [];
  /** Statuses to answer, in turn; 200 once used up. */
  answers: number[] = [];
  private server?: Server;

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = this.answers.shift() ?? 200;
        this.received.push({ headers: req.headers, body, event: JSON.parse(body) as Received['event'], status });
        res.writeHead(status).end();
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/credits-events`;
  }

  of(type: string, orgId?: string): Received[] {
    return this.received.filter((r) => r.event.type === type && (orgId === undefined || r.event.org.id === orgId));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
