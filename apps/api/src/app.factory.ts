import type { IncomingMessage } from 'node:http';
import { ModuleMetadata } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { registerIdempotentAnswers } from '@credits/billing';
import type { AppConfig } from '@credits/config';
import { AppModule } from './app.module';
import { HTTP_EDGE_OPTIONS, registerHttpEdges } from './http/http-edges';
import { fastifyBodyLimit } from './http/body-limit';
import { registerHttpHooks, requestIdFor } from './http/http-hooks';
import { PinoLoggerService } from './logging/logger';
import { setupOpenApi } from './openapi/openapi';
import { registerCors } from './http/security';

export interface CreateAppOptions {
  logger: PinoLoggerService;
  /** Extra modules mounted on the app (tests). */
  imports?: ModuleMetadata['imports'];
}

/** Builds the fully wired HTTP app; `main.ts` and the e2e tests share it. */
export async function createApp(config: AppConfig, options: CreateAppOptions): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    // Fastify refuses only what is past the drain bound; the routes' own limits (and the
    // not-found handler's, which no onRoute hook reaches) are enforced by registerBodyLimits.
    bodyLimit: fastifyBodyLimit,
    genReqId: (req: IncomingMessage) => requestIdFor(req.headers['x-request-id']),
    // Behind a load balancer the client's address (per-IP rate limits, logs) is in X-Forwarded-For.
    trustProxy: config.http.trustProxy,
    // While closing, a request that still arrives on an open connection is served (with
    // `Connection: close`) rather than answered Fastify's own non-envelope 503.
    return503OnClosing: false,
    ...HTTP_EDGE_OPTIONS,
  });
  registerHttpEdges(adapter.getInstance());
  registerHttpHooks(adapter.getInstance(), config);
  registerIdempotentAnswers(adapter.getInstance());

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, options.imports), adapter, {
    // Our own JSON-only parser keeps the raw body (registerHttpHooks).
    bodyParser: false,
    logger: options.logger,
    abortOnError: false,
  });
  registerCors(app, config);
  setupOpenApi(app);
  await app.init();
  return app;
}
