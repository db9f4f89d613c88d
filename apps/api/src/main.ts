import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '@credits/config';
import { createApp } from './app.factory';
import { drainOnShutdown } from './health/http-drain';
import { ShutdownState } from './health/shutdown-state';
import { createPino, PinoLoggerService } from './logging/logger';
import { startDevelopmentEmulator } from './stripe-emulator.dev';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`credits-api: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = new PinoLoggerService(createPino(config));
  const log = new Logger('Main');
  Logger.overrideLogger(logger);

  const emulator = config.stripe.startEmulator ? await startDevelopmentEmulator(config) : undefined;

  let app;
  try {
    app = await createApp(config, { logger });
  } catch (error) {
    log.fatal({ msg: 'could not start', err: error });
    await emulator?.close();
    logger.pino.flush();
    process.exit(1);
  }
  const http = drainOnShutdown(app);
  await app.listen({ port: config.http.port, host: config.http.host });
  log.log({
    msg: `credits-api listening on ${await app.getUrl()}`,
    docs: `${config.http.publicUrl}/docs`,
    database: config.database.url ? config.database.url.split(':')[0] : `pglite:${config.database.dataDir}`,
    stripe: config.stripe.usesEmulator ? `emulator ${String(config.stripe.apiBase)}` : 'stripe',
  });

  // SIGTERM (a deploy, a scale-in): readiness fails at once so the load balancer stops
  // sending, and every answer from now on closes its connection; after SHUTDOWN_DELAY_MS the
  // listener closes with the idle connections, and the process waits for the requests in
  // flight only; then Nest's shutdown hooks close the database pool and Redis.
  // SHUTDOWN_GRACE_MS bounds the whole: past it the remaining connections are cut and the
  // exit code says so.
  let stopping = false;
  let exiting = false;
  const { shutdownDelayMs, shutdownGraceMs } = config.http;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.get(ShutdownState).shuttingDown = true;
    log.log({
      msg: `${signal} received: readiness fails now; finishing requests in flight, then stopping`,
      delay_ms: shutdownDelayMs,
      grace_ms: shutdownGraceMs,
    });
    const forced = setTimeout(() => {
      log.error({
        msg: `requests still in flight after SHUTDOWN_GRACE_MS (${shutdownGraceMs} ms): cutting their connections`,
      });
      app.getHttpServer().closeAllConnections();
      void exit(1);
    }, shutdownGraceMs);
    let code = 0;
    try {
      if (shutdownDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, shutdownDelayMs));
      await http.close();
      await app.close();
      await emulator?.close();
    } catch (error) {
      log.error({ msg: 'error while stopping', err: error });
      code = 1;
    }
    clearTimeout(forced);
    log.log({ msg: 'stopped' });
    await exit(code);
  };
  // The first exit wins: past the grace period the cut connections let the drain above finish
  // too, and its exit 0 must not overwrite the 1.
  const exit = async (code: number) => {
    if (exiting) return;
    exiting = true;
    await new Promise<void>((resolve) => logger.pino.flush(() => resolve()));
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

void main();
