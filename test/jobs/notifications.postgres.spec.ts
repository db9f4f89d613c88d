/**
 * Two instances of the service on one PostgreSQL database deliver each notification attempt
 * once (in the PostgreSQL pass of `npm test`).
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { eq } from 'drizzle-orm';
import { DirectoryAdmin } from '@credits/auth';
import { LedgerService, NotificationEndpoints } from '@credits/billing';
import { loadConfig } from '@credits/config';
import {
  DATABASE_HANDLE,
  type DatabaseHandle,
  DB,
  type Db,
  notificationDeliveries,
  organizations,
} from '@credits/database';
import { createApp } from '../../apps/api/src/app.factory';
import { createPino, PinoLoggerService } from '../../apps/api/src/logging/logger';
import { createTestDatabaseUrl, type TestDatabase } from '../support/database';
import { Receiver } from '../support/notification-receiver';
import { TEST_JOBS_ENV } from '../support/test-app';
import { drained, until } from './support';

if (!process.env.TEST_DATABASE_URL?.trim()) {
  throw new Error('TEST_DATABASE_URL must name a PostgreSQL server (npm run test:postgres sets it)');
}

describe('Notifications across two instances (PostgreSQL)', () => {
  let database: TestDatabase;
  const instances: NestFastifyApplication[] = [];
  const receiver = new Receiver();

  beforeAll(async () => {
    database = await createTestDatabaseUrl();
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn', DATABASE_URL: database.url, ...TEST_JOBS_ENV });
    const quiet = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    for (let i = 0; i < 2; i++) {
      const app = await createApp(config, { logger: new PinoLoggerService(createPino(config, quiet)) });
      await app.init();
      instances.push(app);
    }
  });
  afterAll(async () => {
    for (const app of instances) await app.close();
    await receiver.stop();
    await database?.drop();
  });

  it('delivers each event once, whichever instance takes its job', async () => {
    const [first, second] = instances;
    await first.get(NotificationEndpoints).add(await receiver.start());
    const db = first.get<Db>(DB);
    const admin = new DirectoryAdmin(db);
    const events = 30;
    for (let n = 0; n < events; n++) {
      const org = await admin.createOrg(`buyer-${n}`);
      // Written on either instance: each instance's workers poll the same queue.
      const ledger = (n % 2 === 0 ? first : second).get(LedgerService);
      await db.transaction((tx) =>
        ledger.apply(tx, {
          orgId: org.id,
          amount: 5000,
          transactionType: 'purchase',
          description: 'bought',
          sourceRef: `test:${randomUUID()}`,
        }),
      );
    }
    await until('every purchase arrived', () => receiver.received.length >= events, 60_000);
    // Every dispatch and delivery job completed: none is left to deliver anything a second time.
    await drained(first.get<DatabaseHandle>(DATABASE_HANDLE), 'notification-dispatch', 'notification-delivery');
    const ids = receiver.received.map((r) => r.event.id);
    expect(ids).toHaveLength(events);
    expect(new Set(ids).size).toBe(events);
    const slugs = new Set(receiver.received.map((r) => r.event.org.slug));
    expect(slugs.size).toBe(events);

    const attempts = await db.select().from(notificationDeliveries);
    expect(attempts).toHaveLength(events);
    expect(attempts.every((a) => a.attempt === 1 && a.status === 'succeeded')).toBe(true);
    expect((await db.select().from(organizations).where(eq(organizations.slug, 'buyer-0'))).length).toBe(1);
  });
});
