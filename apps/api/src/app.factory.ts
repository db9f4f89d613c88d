import { ModuleMetadata } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '@credits/config';
import { addAuthListener } from '@credits/auth';
import { AppModule } from './app.module';
import { registerHttpHooks, requestContextOf, requestIdFor } from './http/http-hooks';
import { PinoLoggerService } from './logging/logger';
import { setupOpenApi } from './openapi/openapi';

export interface CreateAppOptions {
  logger: PinoLoggerService;
  /** Extra modules mounted on the app (tests). */
  imports?: ModuleMetadata['imports'];
}

let authListenerInstalled = false;

/** Builds the fully wired HTTP app; `main.ts` and the e2e tests share it. */
export async function createApp(config: AppConfig, options: CreateAppOptions): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    // The largest limit any route has; the onRoute hook lowers it for all but webhooks.
    bodyLimit: Math.max(config.http.bodyLimit, config.http.webhookBodyLimit),
    genReqId: (req: IncomingMessage) => requestIdFor(req.headers['x-request-id']),
    return503OnClosing: true,
  });
  registerHttpHooks(adapter.getInstance(), config);

  if (!authListenerInstalled) {
    authListenerInstalled = true;
    addAuthListener((request) => {
      const context = requestContextOf(request);
      if (!context) return;
      if (request.principal) context.user_id = request.principal.userId;
      if (request.org) context.org = request.org.slug;
    });
  }

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, options.imports), adapter, {
    // Our own JSON-only parser keeps the raw body (registerHttpHooks).
    bodyParser: false,
    logger: options.logger,
    abortOnError: false,
  });
  setupOpenApi(app);
  await app.init();
  return app;
}
