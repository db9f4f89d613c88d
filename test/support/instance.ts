import 'reflect-metadata';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DirectoryAdmin } from '@credits/auth';
import { AppConfig, loadConfig } from '@credits/config';
import { ApiKeyScope, Db, DB, MemberRole } from '@credits/database';
import { createApp } from '../../apps/api/src/app.factory';
import { createPino, PinoLoggerService } from '../../apps/api/src/logging/logger';
import { TEST_JWT_SECRET } from './auth';
import { createTestDatabaseUrl, type TestDatabase } from './database';
import { drainOnShutdown } from '../../apps/api/src/health/http-drain';
import { addMember, closeApp, HttpResult, logSink, request, RequestOptions, TEST_JOBS_ENV } from './test-app';

/** One API instance of several: it brings no database of its own (the env names a shared one). */
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
    JWT_SECRET: TEST_JWT_SECRET,
    ...TEST_JOBS_ENV,
    ...env,
  });
  const logs: string[] = [];
  const app = await createApp(config, { logger: new PinoLoggerService(createPino(config, logSink(logs))) });
  const http = drainOnShutdown(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  return {
    app,
    url,
    config,
    db: app.get<Db>(DB),
    logs,
    request: (method, path, options) => request(url, method, path, options),
    close: () => closeApp(app, http),
  };
}

/** Creates the org, the user and the membership (once) and returns a new API key. */
export function seedMember(db: Db, org: string, email: string, role: MemberRole): Promise<string> {
  return addMember(new DirectoryAdmin(db), org, email, role);
}

/** A new service key of `service` with `scopes`, on every org. */
export async function seedServiceKey(db: Db, service: string, scopes: ApiKeyScope[]): Promise<string> {
  return (await new DirectoryAdmin(db).createServiceKey(service, { scopes })).key;
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

/**
 * Two API instances on one new PostgreSQL database, for races between instances: made in
 * `beforeAll` (call this in the describe block), stopped and the database dropped in
 * `afterAll`. Rate limits are out of the way: the race, not the limiter, is under test.
 */
export function racingInstances(): () => Instance[] {
  let database: TestDatabase | undefined;
  let instances: Instance[] = [];
  beforeAll(async () => {
    database = await createTestDatabaseUrl();
    const env = { DATABASE_URL: database.url, RATE_LIMIT_READ: '100000', RATE_LIMIT_AUTH_FAILURES: '100000' };
    instances = await Promise.all([startInstance(env), startInstance(env)]);
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.close()));
    await database?.drop();
  });
  return () => instances;
}
