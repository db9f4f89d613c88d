import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  DATABASE_HANDLE,
  DB,
  type DatabaseHandle,
  DatabaseModule,
  type Db,
  InjectDb,
  organizations,
} from '@credits/database';
import { createTestDatabaseUrl, type TestDatabase } from '../support/database';

const SETTINGS = Symbol('SETTINGS');

/** Stands in for the app's configuration module. */
@Module({ providers: [{ provide: SETTINGS, useFactory: () => ({ databaseUrl: '' }) }], exports: [SETTINGS] })
class SettingsModule {}

@Injectable()
class OrganizationsReader {
  constructor(@InjectDb() private readonly db: Db) {}

  slugs(): Promise<string[]> {
    return this.db
      .select({ slug: organizations.slug })
      .from(organizations)
      .then((rows) => rows.map((r) => r.slug));
  }
}

/** A feature module: it sees DB without importing DatabaseModule (global). */
@Module({ providers: [OrganizationsReader], exports: [OrganizationsReader] })
class FeatureModule {}

describe('DatabaseModule', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabaseUrl();
  });
  afterAll(() => database.drop());

  it('opens at init from the factory options, provides DB and the handle, and closes at shutdown', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        DatabaseModule.forRootAsync({
          imports: [SettingsModule],
          inject: [SETTINGS],
          useFactory: async (settings: { databaseUrl: string }) => ({
            url: settings.databaseUrl || database.url,
            dataDir: 'unused',
          }),
        }),
        FeatureModule,
      ],
    }).compile();
    await moduleRef.init();

    const handle = moduleRef.get<DatabaseHandle>(DATABASE_HANDLE);
    expect(moduleRef.get<Db>(DB)).toBe(handle.db);
    await handle.ping();
    await handle.db.insert(organizations).values({ slug: 'via-nest', name: 'Via Nest' });
    expect(await moduleRef.get(OrganizationsReader).slugs()).toEqual(['via-nest']);

    await moduleRef.close(); // runs the shutdown hooks, as app.close() and signals do
    await expect(handle.ping()).rejects.toThrow();
  });
});
