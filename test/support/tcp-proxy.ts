import { createServer, Server, Socket } from 'node:net';

export type ProxyMode = 'open' | 'refuse' | 'blackhole';

/**
 * A TCP proxy in front of a real server, to take that server away from the app without
 * touching it (other tests use the same PostgreSQL and Redis). `refuse`: every connection,
 * open or new, is reset at once (a server that stopped). `blackhole`: nothing is forwarded
 * and nothing answered, connections hang (a partition); `open` again resumes them.
 */
export class TcpProxy {
  private server!: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private mode: ProxyMode = 'open';
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    for (const pair of this.pairs) {
      if (mode === 'refuse') {
        pair.client.destroy();
        pair.upstream.destroy();
      } else if (mode === 'blackhole') {
        pair.client.pause();
        pair.upstream.pause();
      } else {
        pair.client.resume();
        pair.upstream.resume();
      }
    }
  }

  private accept(client: Socket): void {
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const upstream = new Socket();
    const pair = { client, upstream };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.connect(this.target.port, this.target.host);
    if (this.mode === 'blackhole') {
      client.pause();
      upstream.pause();
    }
  }

  async close(): Promise<void> {
    this.setMode('refuse');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
