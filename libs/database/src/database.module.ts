import {
  type DynamicModule,
  type FactoryProvider,
  Global,
  Inject,
  Module,
  type ModuleMetadata,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { openDatabase } from './open-database';
import type { DatabaseHandle, DatabaseOptions } from './types';

/** Injection token of the `Db` (Drizzle database). */
export const DB = Symbol('DB');
/** Injection token of the `DatabaseHandle` (kind, ping, close). */
export const DATABASE_HANDLE = Symbol('DATABASE_HANDLE');
const DATABASE_OPTIONS = Symbol('DATABASE_OPTIONS');

/** `@InjectDb() private readonly db: Db` */
export const InjectDb = (): ParameterDecorator & PropertyDecorator => Inject(DB);
/** `@InjectDatabaseHandle() private readonly database: DatabaseHandle` */
export const InjectDatabaseHandle = (): ParameterDecorator & PropertyDecorator => Inject(DATABASE_HANDLE);

export interface DatabaseModuleAsyncOptions {
  imports?: ModuleMetadata['imports'];
  inject?: FactoryProvider['inject'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  useFactory: (...deps: any[]) => DatabaseOptions | Promise<DatabaseOptions>;
}

/**
 * Global: import once in the root module. The database opens (and migrates) while the
 * application initialises and closes on shutdown (`app.close()` or a signal with
 * `enableShutdownHooks`), after every other module's shutdown hooks have had their turn.
 */
@Global()
@Module({})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DATABASE_HANDLE) private readonly handle: DatabaseHandle) {}

  static forRootAsync(options: DatabaseModuleAsyncOptions): DynamicModule {
    return {
      module: DatabaseModule,
      global: true,
      imports: options.imports ?? [],
      providers: [
        { provide: DATABASE_OPTIONS, useFactory: options.useFactory, inject: [...(options.inject ?? [])] },
        {
          provide: DATABASE_HANDLE,
          useFactory: (databaseOptions: DatabaseOptions) => openDatabase(databaseOptions),
          inject: [DATABASE_OPTIONS],
        },
        { provide: DB, useFactory: (handle: DatabaseHandle) => handle.db, inject: [DATABASE_HANDLE] },
      ],
      exports: [DB, DATABASE_HANDLE],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.handle.close();
  }
}
