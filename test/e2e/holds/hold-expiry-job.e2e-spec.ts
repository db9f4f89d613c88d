import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { holdExpiryJob, LedgerService } from '@credits/billing';
import { creditHolds, organizations, rows } from '@credits/database';
import { JobsService } from '@credits/jobs';
import { until } from '../../jobs/support';
import { bearer, SPEND } from '../../support/auth';
import { startTestApp, type TestApp } from '../../support/test-app';

/** The sweep as deployed: scheduled through the job queue (HOLD_SWEEP_ENABLED), run by a worker. */
describe('the hold-expiry job', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { HOLD_SWEEP_ENABLED: 'true' } });
  });
  afterAll(() => t?.close());

  it('is scheduled every minute, and a run marks the holds past their expires_at expired', async () => {
    expect(await rows(t.db, sql`select name, cron from pgboss.schedule where name = ${holdExpiryJob.name}`)).toEqual([
      { name: 'hold-expiry', cron: '* * * * *' },
    ]);

    const key = await t.member('sweep', 'host@sweep.test', 'member', SPEND);
    const [org] = await t.db.select().from(organizations).where(eq(organizations.slug, 'sweep'));
    await t.db.transaction((tx) =>
      t.app.get(LedgerService).apply(tx, {
        orgId: org.id,
        amount: 100,
        transactionType: 'admin_adjustment',
        description: 'test grant',
        sourceRef: `test:${randomUUID()}`,
      }),
    );
    const made = await t.request('POST', '/api/v1/org/sweep/credits/holds', {
      headers: bearer(key, { 'idempotency-key': randomUUID() }),
      body: { amount: 100 },
    });
    expect(made.status).toBe(201);
    await t.db
      .update(creditHolds)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(creditHolds.id, made.body.id));

    // What the schedule sends each minute, sent now.
    await t.app.get(JobsService).send(holdExpiryJob, {});
    const stored = async () => (await t.db.select().from(creditHolds).where(eq(creditHolds.id, made.body.id)))[0];
    await until('the job marked the hold expired', async () => (await stored()).status === 'expired');
  });
});
