import 'reflect-metadata';
import { Writable } from 'node:stream';
import { ModuleMetadata } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DirectoryAdmin } from '@credits/auth';
import { AppConfig, loadConfig } from '@credits/config';
import { ApiKeyScope, Db, DB, MemberRole } from '@credits/database';
import { createApp } from '../../apps/api/src/app.factory';
import { drainOnShutdown, type HttpDrain } from '../../apps/api/src/health/http-drain';
import { createPino, PinoLoggerService } from '../../apps/api/src/logging/logger';
import { TEST_JWT_SECRET } from './auth';
import { createTestDatabaseUrl } from './database';

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as JSON unless `raw` is given. */
  body?: unknown;
  raw?: string | Buffer;
}

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  config: AppConfig;
  db: Db;
  admin: DirectoryAdmin;
  /** Every log line the app wrote, as text. */
  logs: string[];
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<HttpResult<T>>;
  /**
   * Creates (or reuses) the org and user, adds the membership, returns a fresh API key; with
   * `scopes`, the key's own list (narrowing the role's, or adding `credits:spend`).
   */
  member(org: string, email: string, role: MemberRole, scopes?: ApiKeyScope[]): Promise<string>;
  /** A new service key of `service` with `scopes`, on every org or only on `orgs` (which must exist). */
  serviceKey(service: string, scopes: ApiKeyScope[], orgs?: string[]): Promise<string>;
  close(): Promise<void>;
}

export async function request<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Buffer | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(baseUrl + path, { method, headers, body, redirect: 'manual' });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed as T };
}

/**
 * Job workers poll at pg-boss's shortest interval: a job written in a transaction (a
 * notification, a payment's details) or sent by another instance waits for a worker's next
 * poll, 2 s by default, and the suites wait on many such chains.
 */
export const TEST_JOBS_ENV = { JOB_POLL_INTERVAL_MS: '500' };

export interface StartOptions {
  env?: Record<string, string>;
  imports?: ModuleMetadata['imports'];
}

/** The whole app over real HTTP on a random port, on a fresh database (PGlite or PostgreSQL). */
export async function startTestApp(options: StartOptions = {}): Promise<TestApp> {
  const database = await createTestDatabaseUrl();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'debug',
    DATABASE_URL: database.url,
    JWT_SECRET: TEST_JWT_SECRET,
    // Suites make many requests as one caller; the rate-limit suites set their own limits.
    RATE_LIMIT_CHECKOUT: '10000',
    RATE_LIMIT_READ: '10000',
    RATE_LIMIT_AUTH_FAILURES: '10000',
    ...TEST_JOBS_ENV,
    ...options.env,
  });
  const logs: string[] = [];
  const logger = new PinoLoggerService(createPino(config, logSink(logs)));
  const app = await createApp(config, { logger, imports: options.imports });
  const http = drainOnShutdown(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  const db = app.get<Db>(DB);
  const admin = new DirectoryAdmin(db);

  return {
    app,
    url,
    config,
    db,
    admin,
    logs,
    request: (method, path, opts) => request(url, method, path, opts),
    member: (org, email, role, scopes) => addMember(admin, org, email, role, scopes),
    serviceKey: async (service, scopes, orgs) => (await admin.createServiceKey(service, { scopes, orgs })).key,
    async close() {
      await closeApp(app, http);
      await database.drop();
    },
  };
}

/**
 * Stops an app that listens as `main.ts` does on SIGTERM: the HTTP server first, with the
 * connections that have sent nothing yet (an HTTP client opens them ahead of need, and Node's
 * close waits for them with no time limit), then Nest's shutdown (jobs, database).
 */
export async function closeApp(app: NestFastifyApplication, http: HttpDrain): Promise<void> {
  await http.close();
  await app.close();
}

/** A stream that collects every log line written to it, as text, into `logs`. */
export function logSink(logs: string[]): Writable {
  return new Writable({
    write(chunk, _encoding, callback) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
}

/** Creates the org, the user and the membership (each unless it exists) and returns a new API key. */
export async function addMember(
  admin: DirectoryAdmin,
  org: string,
  email: string,
  role: MemberRole,
  scopes?: ApiKeyScope[],
): Promise<string> {
  await admin.createOrg(org).catch(ignoreExisting);
  await admin.createUser(email).catch(ignoreExisting);
  await admin.addMember(org, email, role).catch(ignoreExisting);
  return (await admin.createApiKey(email, undefined, undefined, scopes)).key;
}

function ignoreExisting(error: Error & { type?: string }): void {
  if (error.type !== 'already_exists_error') throw error;
}
