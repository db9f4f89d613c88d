export * from './schema';
export * from './relations';
export { fullSchema } from './types';
export type {
  Db,
  DbTransaction,
  DatabaseHandle,
  DatabaseLogger,
  DatabaseOptions,
  FullSchema,
  NotificationHandlers,
  NotificationSubscription,
} from './types';
export { DEFAULT_IDLE_TIMEOUT_MS, openDatabase } from './open-database';
export { rowOf, rows } from './rows';
export { bigintArray, textArray, uuidArray } from './array-params';
export { plannedEachRun } from './statement-names';
export { notifyChannel } from './notify';
export { hasSqlState, isDeadlock, isUniqueViolation } from './pg-errors';
export { DatabaseModule, DB, DATABASE_HANDLE, InjectDb, InjectDatabaseHandle } from './database.module';
export type { DatabaseModuleAsyncOptions } from './database.module';
export { parseDatabaseUrl } from './url';
export { resolveMigrationsFolder } from './migrations-folder';
export { getPgliteTemplate } from './pglite-template';
export type { PgliteTemplateOptions } from './pglite-template';
