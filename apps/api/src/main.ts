import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '@credits/config';
import { createApp } from './app.factory';
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
  await app.listen({ port: config.http.port, host: config.http.host });
  log.log({
    msg: `credits-api listening on ${await app.getUrl()}`,
    docs: `${config.http.publicUrl}/docs`,
    database: config.database.url ? config.database.url.split(':')[0] : `pglite:${config.database.dataDir}`,
    stripe: config.stripe.usesEmulator ? `emulator ${config.stripe.apiBase}` : 'stripe',
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.get(ShutdownState).shuttingDown = true;
    log.log({ msg: `${signal} received: finishing requests in flight, then stopping` });
    await app.close();
    await emulator?.close();
    log.log({ msg: 'stopped' });
    logger.pino.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

void main();
