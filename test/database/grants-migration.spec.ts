import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { getPgliteTemplate, openDatabase, resolveMigrationsFolder, rows } from '@credits/database';
import { expectLedgerConsistent } from '../e2e/fulfilment/helpers';
import { PGLITE_TEMPLATE_CACHE_DIR } from '../support/database';

/**
 * Migration 0005 on a database that already holds credits (DESIGN §1.4): each org's balance
 * becomes one paid grant that never expires, active holds draw from it, and balances and
 * ledgers stay as they were. The database is made at 0004 from a copy of the migrations
 * folder cut there, filled as the service left it, then opened with every migration.
 */
describe('migration 0005: credit grants', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credits-migration-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('turns each balance into one paid, never-expiring grant; active holds draw from it', async () => {
    const full = resolveMigrationsFolder();
    const before = join(dir, 'migrations-0004');
    cpSync(full, before, { recursive: true });
    const journalPath = join(before, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
    journal.entries = journal.entries.filter((entry) => entry.tag < '0005');
    writeFileSync(journalPath, JSON.stringify(journal));

    // The database at 0004 is made from a template of those migrations, built once and kept
    // in the test cache like the full one (initdb and five migrations cost seconds).
    await getPgliteTemplate(before, { cacheDir: PGLITE_TEMPLATE_CACHE_DIR });
    const dataDir = join(dir, 'data');
    const old = await openDatabase({ dataDir, migrationsFolder: before, pgliteSharedBuffers: '8MB' });
    await old.db.execute(sql`
      with orgs as (
        insert into organizations (slug, name) values ('rich', 'Rich'), ('broke', 'Broke'), ('fresh', 'Fresh')
        returning id, slug),
      entries as (
        insert into credit_ledger (org_id, amount, balance_after, transaction_type, description, source_ref)
        select id, amount, balance_after, 'admin_adjustment', 'before grants', 'admin:' || slug || ':' || n
        from orgs join (values ('rich', 1, 1000, 1000), ('rich', 2, -300, 700), ('broke', 1, 50, 50), ('broke', 2, -50, 0))
          as v(s, n, amount, balance_after) on v.s = orgs.slug
        returning org_id)
      insert into credit_balances (org_id, balance)
      select id, case slug when 'rich' then 700 else 0 end from orgs where slug <> 'fresh'`);
    await old.db.execute(sql`
      insert into credit_holds (org_id, amount, status, expires_at)
      select id, amount, status, now() + make_interval(secs => secs)
      from organizations join (values (200, 'active', 3600), (30, 'active', -60), (40, 'released', 3600))
        as v(amount, status, secs) on true
      where slug = 'rich'`);
    await old.close();

    const migrated = await openDatabase({ dataDir, migrationsFolder: full, pgliteSharedBuffers: '8MB' });
    try {
      const grants = await rows<Record<string, unknown>>(
        migrated.db,
        sql`select o.slug, g.amount, g.remaining, g.category, g.source, g.priority, g.expires_at, g.voided_at
            from credit_grants g join organizations o on o.id = g.org_id order by o.slug`,
      );
      expect(grants).toEqual([
        {
          slug: 'rich',
          amount: 700,
          remaining: 700,
          category: 'paid',
          source: 'migration',
          priority: 50,
          expires_at: null,
          voided_at: null,
        },
      ]);
      const holds = await rows<{ amount: number; status: string; draws: unknown }>(
        migrated.db,
        sql`select h.amount, h.status, h.draws = jsonb_build_array(jsonb_build_object('grant_id', g.id, 'amount', h.amount)) as draws
            from credit_holds h join credit_grants g on g.org_id = h.org_id order by h.amount`,
      );
      // The live hold draws from the grant; an expired or released one keeps no draws.
      expect(holds.map((h) => [Number(h.amount), h.status, h.draws])).toEqual([
        [30, 'active', false],
        [40, 'released', false],
        [200, 'active', true],
      ]);
      const balances = await rows<{ slug: string; balance: number; entries: number }>(
        migrated.db,
        sql`select o.slug, b.balance, (select count(*)::int from credit_ledger l where l.org_id = o.id) as entries
            from organizations o join credit_balances b on b.org_id = o.id order by o.slug`,
      );
      expect(balances.map((b) => [b.slug, Number(b.balance), b.entries])).toEqual([
        ['broke', 0, 2],
        ['rich', 700, 2],
      ]);
      await expectLedgerConsistent(migrated.db);
    } finally {
      await migrated.close();
    }
  });
});
