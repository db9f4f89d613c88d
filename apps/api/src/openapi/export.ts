import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@credits/config';
import { createApp } from '../app.factory';
import { createPino, PinoLoggerService } from '../logging/logger';
import { buildOpenApiDocument } from './openapi';

/** Writes the OpenAPI document to openapi.json at the repository root (`npm run openapi`). */
async function main(): Promise<void> {
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: 'memory://', LOG_LEVEL: 'warn' });
  const app = await createApp(config, { logger: new PinoLoggerService(createPino(config)) });
  const document = buildOpenApiDocument(app);
  const target = join(process.cwd(), 'openapi.json');
  writeFileSync(target, `${JSON.stringify(document, null, 2)}\n`);
  await app.close();
  process.stderr.write(`wrote ${target}\n`);
}

void main();
