import { sql } from 'drizzle-orm';
import { cliSpecDatabase } from '../../cli/cli-database';
import { expectLedgerConsistent, rows } from './helpers';

/**
 * `credits grant` and `credits show` through `runCli`, on a database of their own: PostgreSQL
 * with TEST_DATABASE_URL, otherwise an embedded PGlite in a temporary DATA_DIR (an in-memory
 * one would not outlive a single command).
 *
 * Every command opens the database anew: milliseconds on PostgreSQL, about a second (more
 * on a busy machine) for an embedded PGlite. So the PostgreSQL pass runs every case, and
 * the PGlite pass one walk through grant, refusal below zero and show.
 */
const onPostgres = Boolean(process.env.TEST_DATABASE_URL?.trim());
/** Not registered at all (rather than skipped): each pass registers only its own cases. */
const notInThisPass = Object.assign(() => undefined, { each: () => () => undefined }) as unknown as typeof it;
/** The PostgreSQL pass registers every case; the PGlite pass its own walk-through below. */
const pgOnly = onPostgres ? it : notInThisPass;
const pgliteOnly = onPostgres ? notInThisPass : it;

describe('CLI: credits grant / credits show', () => {
  const { cli, withDb } = cliSpecDatabase();
  beforeAll(async () => {
    expect((await cli('org', 'create', 'acme', '--name', 'Acme Inc')).code).toBe(0);
  });

  pgOnly('show: a new org has balance 0 and no entries', async () => {
    const res = await cli('credits', 'show', 'acme');
    expect(res).toMatchObject({ code: 0, out: ['balance\t0'] });
  });

  pgOnly('grant adds an admin_adjustment entry and prints the new balance', async () => {
    const res = await cli('credits', 'grant', 'acme', '500', '--reason', 'Welcome credits');
    expect(res.code).toBe(0);
    expect(res.out).toEqual(['500']);
    expect(res.err).toMatch(/acme: \+500 credits \(grant [0-9a-f-]{36}\); balance 500/);
  });

  pgOnly('a negative grant removes credits', async () => {
    const res = await cli('credits', 'grant', 'acme', '-200', '--reason=Correction of a duplicate grant');
    expect(res).toMatchObject({ code: 0, out: ['300'] });
  });

  pgOnly('a negative grant that would take the balance below zero fails with exit 1 and changes nothing', async () => {
    const res = await cli('credits', 'grant', 'acme', '-301', '--reason', 'Too much');
    expect(res.code).toBe(1);
    expect(res.out).toEqual([]);
    expect(res.err).toBe('error: the balance of acme is 300: removing 301 would take it below zero');
    // Unchanged: the next test takes exactly 300 to reach zero.
  });

  pgOnly('taking the balance exactly to zero is allowed', async () => {
    expect((await cli('credits', 'grant', 'acme', '-300', '--reason', 'Close the account')).out).toEqual(['0']);
    expect((await cli('credits', 'grant', 'acme', '-1', '--reason', 'Below zero')).code).toBe(1);
    expect((await cli('credits', 'grant', 'acme', '250', '--reason', 'Reopen')).out).toEqual(['250']);
  });

  pgOnly.each([
    [
      'no amount',
      ['credits', 'grant', 'acme', '--reason', 'x'],
      'expected credits grant <slug> <amount> --reason TEXT',
    ],
    ['a zero amount', ['credits', 'grant', 'acme', '0', '--reason', 'x'], 'non-zero whole number'],
    ['a fractional amount', ['credits', 'grant', 'acme', '1.5', '--reason', 'x'], 'non-zero whole number'],
    ['a word', ['credits', 'grant', 'acme', 'ten', '--reason', 'x'], 'non-zero whole number'],
    ['no --reason', ['credits', 'grant', 'acme', '10'], '--reason is required'],
    ['a blank --reason', ['credits', 'grant', 'acme', '10', '--reason', '  '], '--reason is required'],
    [
      'an unknown option',
      ['credits', 'grant', 'acme', '10', '--reason', 'x', '--force', 'y'],
      'unknown option --force',
    ],
    ['show without a slug', ['credits', 'show'], 'expected credits show <slug>'],
  ])('%s -> exit 2 with the usage', async (_name, argv, message) => {
    const res = await cli(...argv);
    expect(res.code).toBe(2);
    expect(res.err).toContain(message);
    expect(res.err).toContain('Usage:');
  });

  pgOnly('an unknown org -> exit 1 for both commands', async () => {
    const grant = await cli('credits', 'grant', 'no-such-org', '10', '--reason', 'x');
    const show = await cli('credits', 'show', 'no-such-org');
    expect([grant.code, show.code]).toEqual([1, 1]);
    expect(grant.err).toMatch(/^error: .*no-such-org/);
    expect(show.err).toMatch(/^error: .*no-such-org/);
  });

  pgOnly('show lists the balance, then the entries newest first', async () => {
    const res = await cli('credits', 'show', 'acme');
    expect(res.code).toBe(0);
    expect(res.out[0]).toBe('balance\t250');
    const entries = res.out.slice(1).map((line) => line.split('\t'));
    expect(entries.map(([, type, amount, after, description]) => [type, amount, after, description])).toEqual([
      ['admin_adjustment', '+250', '250', 'Reopen'],
      ['admin_adjustment', '-300', '0', 'Close the account'],
      ['admin_adjustment', '-200', '300', 'Correction of a duplicate grant'],
      ['admin_adjustment', '+500', '500', 'Welcome credits'],
    ]);
    for (const [at] of entries) expect(new Date(at).toISOString()).toBe(at);
  });

  pgOnly(
    'with --ref, running the same grant again applies it once (safe to retry after a lost connection)',
    async () => {
      const grant = ['credits', 'grant', 'acme', '100', '--reason', 'Goodwill for TICKET-42', '--ref', 'TICKET-42'];
      const first = await cli(...grant);
      expect(first).toMatchObject({ code: 0, out: ['350'] });
      const again = await cli(...grant);
      expect(again).toMatchObject({ code: 0, out: ['350'] });
      expect(again.err).toContain('--ref TICKET-42 was already applied; nothing changed');
      expect((await cli('credits', 'grant', 'acme', '10', '--reason', 'x', '--ref', 'no spaces allowed')).code).toBe(2);
    },
  );

  pgOnly('--json: grant and show each print one JSON document; a refusal keeps stdout empty', async () => {
    const grant = await cli('credits', 'grant', 'acme', '50', '--reason', 'Scripted', '--ref', 'SCRIPT-1', '--json');
    expect(grant.code).toBe(0);
    expect(JSON.parse(grant.out.join('\n'))).toEqual({
      org: 'acme',
      amount: 50,
      applied: true,
      balance: 400,
      ref: 'SCRIPT-1',
      grant_id: expect.any(String),
    });
    const replay = await cli('credits', 'grant', 'acme', '50', '--reason', 'Scripted', '--ref', 'SCRIPT-1', '--json');
    expect(JSON.parse(replay.out.join('\n'))).toMatchObject({ applied: false, balance: 400 });
    expect(replay.err).toBe('');

    const show = await cli('credits', 'show', 'acme', '--json');
    const shown = JSON.parse(show.out.join('\n'));
    expect(shown).toMatchObject({ org: 'acme', balance: 400 });
    expect(shown.entries[0]).toEqual({
      id: expect.any(String),
      created_at: expect.any(String),
      transaction_type: 'admin_adjustment',
      amount: 50,
      balance_after: 400,
      description: 'Scripted',
    });
    expect(shown.entries).toHaveLength(6);

    const refused = await cli('credits', 'grant', 'acme', '-401', '--reason', 'Too much', '--json');
    expect(refused).toMatchObject({ code: 1, out: [] });
    expect(refused.err).toBe('error: the balance of acme is 400: removing 401 would take it below zero');
  });

  pgOnly('the ledger stays consistent: balance = sum of entries, never negative', async () => {
    await withDb(async (db) => {
      await expectLedgerConsistent(db);
      const [row] = await rows<{ n: number }>(
        db,
        sql`select count(*)::int as n from credit_ledger where transaction_type = 'admin_adjustment'`,
      );
      expect(Number(row.n)).toBe(6);
    });
  });

  pgliteOnly('on an embedded PGlite directory: grant, a negative grant, refusal below zero, show', async () => {
    expect(await cli('credits', 'grant', 'acme', '500', '--reason', 'Welcome credits')).toMatchObject({
      code: 0,
      out: ['500'],
    });
    expect(await cli('credits', 'grant', 'acme', '-200', '--reason', 'Correction')).toMatchObject({
      code: 0,
      out: ['300'],
    });
    const refused = await cli('credits', 'grant', 'acme', '-301', '--reason', 'Too much');
    expect(refused).toMatchObject({
      code: 1,
      out: [],
      err: 'error: the balance of acme is 300: removing 301 would take it below zero',
    });
    const show = await cli('credits', 'show', 'acme');
    expect(show.code).toBe(0);
    expect(show.out[0]).toBe('balance\t300');
    const shown = await cli('credits', 'show', 'acme', '--json');
    expect(JSON.parse(shown.out.join('\n'))).toMatchObject({
      org: 'acme',
      balance: 300,
      entries: [{ amount: -200 }, { amount: 500 }],
    });
    expect(show.out.slice(1).map((line) => line.split('\t').slice(1))).toEqual([
      ['admin_adjustment', '-200', '300', 'Correction'],
      ['admin_adjustment', '+500', '500', 'Welcome credits'],
    ]);
    await withDb((db) => expectLedgerConsistent(db));
  });

  it('grant terms (expiry, priority, category) and credits void, on either database', async () => {
    expect((await cli('org', 'create', 'promo')).code).toBe(0);
    const bonus = await cli(
      ...['credits', 'grant', 'promo', '300', '--reason', 'Sign-up bonus', '--expires-in', '30d'],
      ...['--priority', '10', '--category', 'promotional', '--json'],
    );
    expect(bonus.code).toBe(0);
    const { grant_id: grantId } = JSON.parse(bonus.out.join('\n')) as { grant_id: string };
    const [row] = await withDb((db) =>
      rows<{ category: string; priority: number; days: number }>(
        db,
        sql`select category, priority, round(extract(epoch from expires_at - effective_at) / 86400)::int as days
            from credit_grants where id = ${grantId}::uuid`,
      ),
    );
    expect(row).toEqual({ category: 'promotional', priority: 10, days: 30 });
    // Bad terms are usage errors (exit 2), before anything is written.
    for (const bad of [
      ['--expires-in', '30x'],
      ['--expires-at', 'tomorrow'],
      ['--expires-at', '2020-01-01T00:00:00Z'],
      ['--priority', '101'],
      ['--category', 'gift'],
      ['--expires-in', '1d', '--expires-at', '2999-01-01T00:00:00Z'],
    ]) {
      expect((await cli('credits', 'grant', 'promo', '5', '--reason', 'x', ...bad)).code).toBe(2);
    }
    const voided = await cli('credits', 'void', grantId, '--reason', 'Promotion withdrawn');
    expect(voided).toMatchObject({ code: 0, out: ['0'] });
    expect(voided.err).toContain(`grant ${grantId} voided: 300 credits written off; balance 0`);
    expect(await cli('credits', 'void', grantId, '--reason', 'again')).toMatchObject({ code: 0, out: ['0'] });
    expect((await cli('credits', 'void', '00000000-0000-4000-8000-000000000000', '--reason', 'x')).code).toBe(1);
    const show = await cli('credits', 'show', 'promo');
    expect(show.out.slice(1).map((line) => line.split('\t').slice(1, 4))).toEqual([
      ['void', '-300', '0'],
      ['admin_adjustment', '+300', '300'],
    ]);
    await withDb((db) => expectLedgerConsistent(db));
  });

  it('a negative grant never starts an auto-refill, even below the threshold with refills to spare', async () => {
    expect((await cli('org', 'create', 'refiller')).code).toBe(0);
    expect((await cli('credits', 'grant', 'refiller', '1000', '--reason', 'Opening balance')).code).toBe(0);
    // Auto-refill on with a saved card: below 500 a debit would start a refill (monthly limit 5).
    await withDb((db) =>
      db.execute(sql`
        insert into auto_refill_settings (org_id, enabled, threshold, quantity, monthly_limit, payment_method_id)
        select id, true, 500, 1, 5, 'pm_card_visa' from organizations where slug = 'refiller'`),
    );
    expect(await cli('credits', 'grant', 'refiller', '-600', '--reason', 'Correction')).toMatchObject({
      code: 0,
      out: ['400'],
    });
    // A refill would have been written in the adjustment's own transaction.
    const [started] = await withDb((db) =>
      rows<{ n: number }>(
        db,
        sql`select count(*)::int as n from auto_refills r join organizations o on o.id = r.org_id where o.slug = 'refiller'`,
      ),
    );
    expect(Number(started.n)).toBe(0);
  });
});
