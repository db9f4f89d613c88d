import type { DynamicModule } from '@nestjs/common';
import { AppConfig, ConfigModule } from '@credits/config';
import { DatabaseModule } from '@credits/database';

/** How a process other than the server opens the database (the admin CLI: one command, then exit). */
export interface DatabaseUse {
  poolMax?: number;
  pgliteSharedBuffers?: string;
}

/** The configuration and the database, as each process opens them: the API, the admin CLI. */
export function configAndDatabase(config: AppConfig, use: DatabaseUse = {}): DynamicModule[] {
  return [
    ConfigModule.forRoot(config),
    DatabaseModule.forRootAsync({
      useFactory: () => ({
        url: config.database.url,
        listenUrl: config.database.listenUrl,
        dataDir: config.database.dataDir,
        poolMax: use.poolMax ?? config.database.poolMax,
        pgliteSharedBuffers: use.pgliteSharedBuffers,
        connectTimeoutMs: config.database.connectTimeoutMs,
        statementTimeoutMs: config.database.statementTimeoutMs,
      }),
    }),
  ];
}
