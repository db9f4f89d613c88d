/**
 * Two instances of the service (two queues on two connection pools) on one PostgreSQL
 * database, in the PostgreSQL pass of `npm test` (`test:postgres` sets TEST_DATABASE_URL).
 */
import { defineJob } from '@credits/jobs';
import { createTestDatabaseUrl, type TestDatabase } from '../support/database';
import {
  type Deferred,
  deferred,
  drained,
  fetchableNow,
  type QueueApp,
  SCHEDULE_SEND_QUEUE,
  scheduleChecks,
  sleep,
  startQueueApp,
  until,
} from './support';

if (!process.env.TEST_DATABASE_URL?.trim()) {
  throw new Error('TEST_DATABASE_URL must name a PostgreSQL server (npm run test:postgres sets it)');
}

const work = defineJob<{ n: number }>({ name: 'work' });
const perOrg = defineJob<{ org: string; run: string }>({
  name: 'per-org',
  singleton: { policy: 'singleton', key: (data) => data.org },
});
const tick = defineJob<object>({ name: 'tick', schedule: { cron: '* * * * *', data: {} } });

describe('Jobs across two instances (PostgreSQL)', () => {
  let database: TestDatabase;
  const instances: QueueApp[] = [];
  const handled: Array<{ instance: number; n: number }> = [];
  const started: Array<{ instance: number; run: string }> = [];
  const gates = new Map<string, Deferred>();
  const ticks: number[] = [];

  beforeAll(async () => {
    database = await createTestDatabaseUrl();
    // Cron is checked at most once a minute per schedule: start clear of a minute's end, so
    // that the observed tick is the only one.
    const secondsLeft = 60 - new Date().getUTCSeconds();
    if (secondsLeft < 15) await sleep(secondsLeft * 1000 + 500);
    for (const instance of [1, 2]) {
      instances.push(
        await startQueueApp({ url: database.url }, (jobs) => {
          jobs.handle(work, async ({ n }) => void handled.push({ instance, n }));
          jobs.handle(perOrg, async ({ run }) => {
            started.push({ instance, run });
            await gates.get(run)?.promise;
          });
          jobs.handle(tick, async () => void ticks.push(instance));
        }),
      );
    }
  });
  afterAll(async () => {
    for (const open of gates.values()) open.resolve();
    for (const instance of instances) await instance.close();
    await database?.drop();
  });

  it('runs a scheduled job once per tick, whichever instance checks the schedule', async () => {
    await until('the tick ran', () => ticks.length >= 1);
    // The instances go on checking the schedule every second. A check records its time before
    // it sends what is due, so after three more the first two have sent theirs; once those
    // have run, a second tick of this minute would be among them.
    await scheduleChecks(instances[0].handle, 3);
    await drained(instances[0].handle, SCHEDULE_SEND_QUEUE, tick.name);
    expect(ticks).toHaveLength(1);
  });

  it('hands each job to exactly one instance', async () => {
    for (let n = 0; n < 20; n++) await instances[n % 2].jobs.send(work, { n });
    await until('20 jobs handled', () => handled.length >= 20);
    // Every job completed: none is left for a second run on either instance.
    await drained(instances[0].handle, work.name);
    expect(handled.map((h) => h.n).sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
  });

  it('runs one job per singleton key at a time across instances; another key runs on the other one', async () => {
    for (const run of ['a1', 'b1', 'a2']) gates.set(run, deferred());
    const runs = () => started.map((s) => s.run);
    await instances[0].jobs.send(perOrg, { org: 'a', run: 'a1' });
    await until('a1 started', () => runs().includes('a1'));
    await instances[0].jobs.send(perOrg, { org: 'b', run: 'b1' });
    await until('b1 started on the other instance', () => runs().includes('b1'));
    expect(new Set(started.map((s) => s.instance)).size).toBe(2);
    gates.get('b1')!.resolve();

    await instances[1].jobs.send(perOrg, { org: 'a', run: 'a2' });
    // A worker of either instance that asks now (as the idle one does at every poll) is handed nothing.
    expect(await fetchableNow(instances[1].handle, perOrg.name)).toEqual([]);
    expect(runs()).not.toContain('a2');
    gates.get('a1')!.resolve();
    await until('a2 started once a1 ended', () => runs().includes('a2'));
    gates.get('a2')!.resolve();
  });
});
