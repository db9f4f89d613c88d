import { eq } from 'drizzle-orm';
import { reconcileJob, ReconciliationSchedule, ReconciliationService } from '@credits/billing';
import { checkoutSessions, creditLedger } from '@credits/database';
import { createTestDatabaseUrl, type TestDatabase } from '../../support/database';
import { startStack, Stack } from '../../support/stack';
import {
  type Deferred,
  deferred,
  drained,
  fetchableNow,
  type QueueApp,
  startQueueApp,
  until,
} from '../../jobs/support';
import { count, createSession, expectLedgerConsistent, payQuietly } from './helpers';

/**
 * Reconciliation against the emulator: purchases whose webhook never came are granted once,
 * through the webhook's own path; a dry run writes nothing; a repeated run grants nothing.
 */
describe('Reconciliation of missed Checkout sessions', () => {
  let s: Stack;
  let admin: string;
  let reconciliation: ReconciliationService;

  const sessionRow = async (id: string) =>
    (await s.db.select().from(checkoutSessions).where(eq(checkoutSessions.id, id)))[0];
  const grants = (id: string) => s.db.select().from(creditLedger).where(eq(creditLedger.checkoutSessionId, id));
  const lastHour = () => ({ since: new Date(Date.now() - 3_600_000) });

  beforeAll(async () => {
    // The schedule is on, so ReconciliationSchedule exists; its cron never fires during the test.
    s = await startStack({
      env: { CREDITS_PER_BUNDLE: '1000', RECONCILE_ENABLED: 'true', RECONCILE_CRON: '0 0 1 1 *' },
    });
    admin = await s.member('acme', 'admin@acme.test', 'admin');
    reconciliation = s.app.get(ReconciliationService);
  });
  afterAll(() => s?.close());
  afterEach(() => expectLedgerConsistent(s.db));

  it('grants missed purchases once, marks expired ones; a dry run writes nothing', async () => {
    const paid = await createSession(s, admin, 'acme', 2);
    await payQuietly(s, paid);
    // Our record was never written (the process died after Stripe created the session).
    const unrecorded = await createSession(s, admin, 'acme');
    await payQuietly(s, unrecorded);
    await s.db.delete(checkoutSessions).where(eq(checkoutSessions.id, unrecorded));
    const expired = await createSession(s, admin, 'acme');
    await s.control('POST', `/sessions/${expired}/expire`, { deliver: false });
    const open = await createSession(s, admin, 'acme');
    const ledgerBefore = await count(s.db, 'credit_ledger');

    const dry = await reconciliation.reconcile({ ...lastHour(), dryRun: true });
    expect(dry.granted.map((g) => [g.sessionId, g.credits]).sort()).toEqual(
      [
        [paid, 2000],
        [unrecorded, 1000],
      ].sort(),
    );
    expect(dry.expired).toEqual([expired]);
    expect(await count(s.db, 'credit_ledger')).toBe(ledgerBefore);
    expect(await sessionRow(unrecorded)).toBeUndefined();
    expect((await sessionRow(expired)).status).toBe('open');

    const run = await reconciliation.reconcile(lastHour());
    expect(run.granted.map((g) => g.sessionId).sort()).toEqual([paid, unrecorded].sort());
    expect(run.expired).toEqual([expired]);
    expect(run.failed).toEqual([]);
    expect(await grants(paid)).toMatchObject([{ amount: 2000, sourceRef: `purchase:${paid}` }]);
    expect(await grants(unrecorded)).toMatchObject([{ amount: 1000 }]);
    expect((await sessionRow(expired)).status).toBe('expired');
    expect((await sessionRow(open)).fulfilledAt).toBeNull();

    const again = await reconciliation.reconcile(lastHour());
    expect(again).toMatchObject({ granted: [], expired: [], failed: [] });
    expect(await count(s.db, 'credit_ledger')).toBe(ledgerBefore + 2);
  });

  it('pages through every session in the window', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await createSession(s, admin, 'acme'));
    for (const id of ids) await payQuietly(s, id);
    const before = (await s.stripeRequests('/v1/checkout/sessions', 'GET')).length;
    const run = await reconciliation.reconcile({ ...lastHour(), pageSize: 2 });
    expect(run.granted.map((g) => g.sessionId).sort()).toEqual([...ids].sort());
    const calls = (await s.stripeRequests('/v1/checkout/sessions', 'GET')).length - before;
    expect(calls).toBe(Math.ceil(run.listed / 2));
  });

  it('the scheduled run leaves the last minutes to the webhook', async () => {
    const schedule = s.app.get(ReconciliationSchedule);
    const recent = await createSession(s, admin, 'acme');
    await payQuietly(s, recent);

    expect((await schedule.run()).granted).toEqual([]);
    expect(await grants(recent)).toHaveLength(0);
    // Five minutes later (RECONCILE_SETTLE_SECONDS, 300 by default) it is the sweep's.
    const later = await schedule.run(Date.now() + 301_000);
    expect(later.granted.map((g) => g.sessionId)).toEqual([recent]);
  });
});

/** Registered in the PostgreSQL pass only (two instances need a server); nothing is skipped. */
const onPostgres = Boolean(process.env.TEST_DATABASE_URL?.trim());
const postgresOnly = onPostgres ? describe : () => undefined;

postgresOnly('The reconciliation job across two instances (PostgreSQL)', () => {
  let database: TestDatabase;
  const instances: QueueApp[] = [];
  const job = reconcileJob('0 0 1 1 *');
  const runs: Array<{ instance: number; gate: Deferred }> = [];
  let running = 0;
  let mostAtOnce = 0;

  beforeAll(async () => {
    database = await createTestDatabaseUrl();
    for (const instance of [1, 2]) {
      instances.push(
        await startQueueApp({ url: database.url }, (jobs) =>
          jobs.handle(job, async () => {
            const gate = deferred();
            runs.push({ instance, gate });
            mostAtOnce = Math.max(mostAtOnce, ++running);
            await gate.promise;
            running--;
          }),
        ),
      );
    }
  });
  afterAll(async () => {
    for (const run of runs) run.gate.resolve();
    for (const instance of instances) await instance.close();
    await database?.drop();
  });

  it('runs one sweep at a time, queues one more at most, whichever instance sends it', async () => {
    expect(await instances[0].jobs.send(job, {})).not.toBeNull();
    await until('the first sweep started', () => runs.length === 1);
    // While it runs, one more is queued; further ones, from either instance, are dropped.
    expect(await instances[1].jobs.send(job, {})).not.toBeNull();
    expect(await instances[0].jobs.send(job, {})).toBeNull();
    expect(await instances[1].jobs.send(job, {})).toBeNull();
    // A worker of either instance that asks now (as they do at every poll) is handed nothing.
    expect(await fetchableNow(instances[1].handle, job.name)).toEqual([]);
    expect(runs).toHaveLength(1);

    runs[0].gate.resolve();
    await until('the queued sweep started', () => runs.length === 2);
    runs[1].gate.resolve();
    // Both sweeps completed: no job is left for a third.
    await drained(instances[0].handle, job.name);
    expect(runs).toHaveLength(2);
    expect(mostAtOnce).toBe(1);
  });
});
