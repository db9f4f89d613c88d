import type { DynamicModule } from '@nestjs/common';
import { AppConfig, ConfigModule } from '@credits/config';
import { DatabaseModule } from '@credits/database';

/** The configuration and the database, as each process opens them: the API, the admin CLI. */
export function configAndDatabase(config: AppConfig, poolMax = config.database.poolMax): DynamicModule[] {
  return [
    ConfigModule.forRoot(config),
    DatabaseModule.forRootAsync({
      useFactory: () => ({
        url: config.database.url,
        listenUrl: config.database.listenUrl,
        dataDir: config.database.dataDir,
        poolMax,
        connectTimeoutMs: config.database.connectTimeoutMs,
        statementTimeoutMs: config.database.statementTimeoutMs,
      }),
    }),
  ];
}
