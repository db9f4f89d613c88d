import 'reflect-metadata';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { createServer, Server, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import { DirectoryAdmin } from '@credits/auth';
import { AppConfig, loadConfig } from '@credits/config';
import { Db, DB, openDatabase, type DatabaseHandle } from '@credits/database';
import { createApp } from '../../apps/api/src/app.factory';
import { createPino, PinoLoggerService } from '../../apps/api/src/logging/logger';
import { request, RequestOptions, HttpResult } from '../support/test-app';

/**
 * The PostgreSQL server these tests run against. They need a real server whatever the run
 * (several instances share one database; connections are cut), so they use the CI one even
 * in the PGlite run.
 */
export const POSTGRES_SERVER_URL =
  process.env.TEST_DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_SERVER = { host: '127.0.0.1', port: 6379 };

export interface PostgresDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database on the PostgreSQL server, dropped by `drop()`. */
export async function createPostgresDatabase(): Promise<PostgresDatabase> {
  const name = `credits_traffic_${randomBytes(6).toString('hex')}`;
  await withAdmin((admin) => admin.query(`create database ${name}`));
  const url = new URL(POSTGRES_SERVER_URL);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ url: url.toString(), dataDir: '' });
  await handle.close();
  return {
    url: url.toString(),
    drop: () =>
      withAdmin(async (admin) => {
        await admin.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
          [name],
        );
        await admin.query(`drop database if exists ${name}`);
      }),
  };
}

async function withAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: POSTGRES_SERVER_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A key prefix of its own, so parallel runs sharing the machine's Redis never see each other's counters. */
export function uniqueRedisPrefix(): string {
  return `credits-api-test:${randomBytes(6).toString('hex')}:`;
}

export interface Instance {
  app: NestFastifyApplication;
  url: string;
  config: AppConfig;
  db: Db;
  logs: string[];
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<HttpResult<T>>;
  close(): Promise<void>;
}

/** One API instance over real HTTP on a random port, on the database its env names. */
export async function startInstance(env: Record<string, string>): Promise<Instance> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long',
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  const app = await createApp(config, { logger: new PinoLoggerService(createPino(config, sink)) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  return {
    app,
    url,
    config,
    db: app.get<Db>(DB),
    logs,
    request: (method, path, options) => request(url, method, path, options),
    close: () => app.close(),
  };
}

/** Creates the org, the user and the membership (once) and returns a new API key. */
export async function seedMember(
  db: Db,
  org: string,
  email: string,
  role: 'owner' | 'admin' | 'member',
): Promise<string> {
  const admin = new DirectoryAdmin(db);
  const ignore = (error: Error & { type?: string }) => {
    if (error.type !== 'already_exists_error') throw error;
  };
  await admin.createOrg(org).catch(ignore);
  await admin.createUser(email).catch(ignore);
  await admin.addMember(org, email, role).catch(ignore);
  return (await admin.createApiKey(email)).key;
}

export async function openTestDb(url: string): Promise<DatabaseHandle> {
  return openDatabase({ url, dataDir: '', migrate: false, poolMax: 2 });
}

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

/** Log lines as objects. */
export function parseLogs(lines: string[]): Record<string, any>[] {
  return lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, any>];
    } catch {
      return [];
    }
  });
}
