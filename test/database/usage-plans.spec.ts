/**
 * A debit group's statements reach its own orgs' rows by their keys, however many other orgs
 * the database holds. The group's orgs, keys and grants go to PostgreSQL as arrays, so the
 * planner knows how few they are; given as a JSON list taken apart in SQL (estimated at 100
 * rows), it scanned every org's grants and balances for each group, a cost that grew with the
 * whole service rather than with the group. And they are planned for each group, never kept
 * as a prepared plan made while the tables were small (`plannedEachRun`).
 */
import { randomUUID } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import { type NewUsage, UsageRepository } from '@credits/billing/usage/usage.repository';
import { type Db, type DbTransaction, openDatabase, rows } from '@credits/database';
import { createTestDatabaseUrl, openTestDatabase } from '../support/database';

/** Other orgs, each with a balance and a grant: enough that a scan costs more than a lookup. */
const OTHER_ORGS = 3000;

type PlanNode = { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] };

/** Every table a plan reads by scanning it whole. */
function scannedTables(node: PlanNode): string[] {
  const here = node['Node Type'] === 'Seq Scan' && node['Relation Name'] ? [node['Relation Name']] : [];
  return [...here, ...(node.Plans ?? []).flatMap(scannedTables)];
}

const debitOf = (org: { org_id: string; grant_id: string }, key: string, balanceAfter: number): NewUsage => ({
  orgId: org.org_id,
  recordId: randomUUID(),
  entryId: randomUUID(),
  key,
  requestHash: 'h',
  amount: 5,
  debited: 5,
  draws: [{ grant_id: org.grant_id, amount: 5 }],
  balanceAfter,
  description: 'Usage',
  metadata: null,
  response: {},
});

describe('usage debits: each statement plans for the group, not for every org', () => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  let db: Db;

  beforeAll(async () => {
    database = await openTestDatabase();
    db = database.db;
    await db.execute(sql`
      with orgs as (
        insert into organizations (slug, name)
        select 'other-' || i, 'Other ' || i from generate_series(1, ${OTHER_ORGS}::int) i returning id),
      balances as (insert into credit_balances (org_id, balance) select id, 100 from orgs)
      insert into credit_grants (org_id, amount, remaining, category, source, source_ref)
      select id, 100, 100, 'paid', 'admin', 'seed:' || id from orgs`);
    await db.execute(sql`analyze`);
  });
  afterAll(() => database?.close());

  it('locking, reading and writing one org’s debits scan no table of grants or balances', async () => {
    const [org] = await rows<{ org_id: string; grant_id: string }>(
      db,
      sql`select org_id, id as grant_id from credit_grants order by id limit 1`,
    );
    const scanned = await db.transaction(async (tx) => {
      // The repository's statements, as it sends them, planned again once the group is written.
      const sent: SQL[] = [];
      const watched = new Proxy(tx, {
        get: (target, name, receiver) =>
          name === 'execute'
            ? (query: SQL) => {
                sent.push(query);
                return target.execute(query);
              }
            : Reflect.get(target, name, receiver),
      }) as DbTransaction;
      const writer = new UsageRepository().in(watched);
      await writer.lockBalances([org.org_id]);
      const { now } = await writer.snapshot([{ orgId: org.org_id, key: 'plan-1' }]);
      await writer.write(now, [debitOf(org, 'plan-1', 95)]);
      expect(sent).toHaveLength(3);
      const plans = [];
      for (const query of sent) {
        const [row] = await rows<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(tx, sql`explain (format json) ${query}`);
        plans.push(scannedTables(row['QUERY PLAN'][0].Plan));
      }
      return plans;
    });
    expect(scanned.map((tables) => tables.filter((t) => ['credit_grants', 'credit_balances'].includes(t)))).toEqual([
      [],
      [],
      [],
    ]);
  });

  it('keys with quotes, backslashes, commas, braces and spaces go through the arrays intact', async () => {
    const [org] = await rows<{ org_id: string; grant_id: string }>(
      db,
      sql`select org_id, id as grant_id from credit_grants order by id desc limit 1`,
    );
    const keys = ['a"b', 'c\\d', 'e,f', '{g}', 'NULL', ' h i '];
    const found = await db.transaction(async (tx) => {
      const writer = new UsageRepository().in(tx);
      await writer.lockBalances([org.org_id]);
      const { now } = await writer.snapshot(keys.map((key) => ({ orgId: org.org_id, key })));
      await writer.write(
        now,
        keys.map((key, i) => debitOf(org, key, 95 - 5 * i)),
      );
      return writer.snapshot(keys.map((key) => ({ orgId: org.org_id, key })));
    });
    expect(found.existing.map((e) => e.key).sort()).toEqual([...keys].sort());
  });
});

describe('usage debits: a group plans for the tables as they are now, not as they were', () => {
  it('reads its keys by index on a connection that ran groups while the records were few', async () => {
    const database = await createTestDatabaseUrl();
    // One connection: every group runs its statements on it, as a busy pool's connection does.
    const handle = await openDatabase({ url: database.url, dataDir: 'unused', poolMax: 1, migrate: false });
    try {
      const { db } = handle;
      const [org] = await rows<{ org_id: string; grant_id: string }>(
        db,
        sql`with o as (insert into organizations (slug, name) values ('growing', 'Growing') returning id),
                 b as (insert into credit_balances (org_id, balance) select id, 1000000 from o)
            insert into credit_grants (org_id, amount, remaining, category, source, source_ref)
            select id, 1000000, 1000000, 'paid', 'admin', 'seed:growing' from o
            returning org_id, id as grant_id`,
      );
      let balance = 1_000_000;
      /** One group of one debit, as the group commit runs it; the usage records it read whole. */
      const group = (key: string) =>
        db.transaction(async (tx) => {
          const writer = new UsageRepository().in(tx);
          await writer.lockBalances([org.org_id]);
          const { now } = await writer.snapshot([{ orgId: org.org_id, key }]);
          await writer.write(now, [debitOf(org, key, (balance -= 5))]);
          const [scans] = await rows<{ seq_scan: number }>(
            tx,
            sql`select seq_scan::int from pg_stat_xact_user_tables where relname = 'usage_records'`,
          );
          return scans.seq_scan;
        });
      // No ANALYZE in this test's moments (the bulk insert below is past autovacuum's threshold):
      // one would replace any plan kept from before and hide what this test looks for.
      await db.execute(sql`alter table usage_records set (autovacuum_enabled = false)`);
      // A new deployment's first debits: the table holds a handful of records. A statement this
      // process names is named on its third run, and PostgreSQL may keep a generic plan from
      // the sixth run of a named statement: ten groups are past both.
      for (let n = 0; n < 10; n++) await group(`early-${n}`);
      // Then it grows (no ANALYZE has run yet, as for the first minute of a busy day).
      await db.execute(sql`
        insert into usage_records (org_id, idempotency_key, request_hash, amount, debited, balance_after, response, expires_at)
        select ${org.org_id}::uuid, 'bulk-' || i, 'h', 1, 0, 0, '{}'::jsonb, now() + interval '30 days'
        from generate_series(1, 20000) i`);
      // Scanning 20,000 records for each group is what made a round of debits run at half speed.
      expect(await group('late')).toBe(0);
    } finally {
      await handle.close();
      await database.drop();
    }
  });
});
