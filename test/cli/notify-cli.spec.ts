import { notificationEvents } from '@credits/database';
import { cliSpecDatabase } from './cli-database';

/**
 * `notify …` through `runCli`, on a database of its own (PostgreSQL with TEST_DATABASE_URL,
 * otherwise an embedded PGlite in a temporary DATA_DIR). Delivery itself is the server's
 * (test/e2e/notifications); here: what an operator types and reads.
 */
describe('CLI: notify', () => {
  const { cli, withDb } = cliSpecDatabase(() => ({ LOW_BALANCE_THRESHOLD: '100' }));

  it('adds, lists and removes an endpoint; a ledger entry from the CLI writes its event', async () => {
    const added = await cli('notify', 'add', 'http://127.0.0.1:9/hook', '--events', 'credits.low_balance');
    expect(added.code).toBe(0);
    expect(added.out).toEqual([expect.stringMatching(/^whsec_[A-Za-z0-9_-]{32}$/)]);
    const id = /added endpoint ([0-9a-f-]{36})/.exec(added.err)?.[1];
    expect(id).toBeDefined();

    const listed = await cli('notify', 'list');
    expect(listed.out).toEqual([
      expect.stringMatching(new RegExp(`^${id}\thttp://127.0.0.1:9/hook\tcredits.low_balance\t`)),
    ]);
    // The secret is shown once: never in the list.
    expect(listed.out.join('')).not.toContain(added.out[0]);

    expect((await cli('org', 'create', 'acme')).code).toBe(0);
    expect((await cli('credits', 'grant', 'acme', '150', '--reason', 'welcome')).code).toBe(0);
    expect((await cli('credits', 'grant', 'acme', '-100', '--reason', 'spent')).code).toBe(0);
    const events = await withDb((db) => db.select().from(notificationEvents));
    expect(events.map((event) => event.type)).toEqual(['credits.low_balance']);

    expect(await cli('notify', 'remove', id!)).toMatchObject({ code: 0 });
    expect(await cli('notify', 'list')).toMatchObject({ code: 0, out: [], err: 'no endpoints' });
    expect(await cli('notify', 'remove', id!)).toMatchObject({ code: 1 });
  });

  it('refuses an unknown event type, a bad URL, and an unknown event to resend', async () => {
    expect(await cli('notify', 'add', 'http://127.0.0.1:9/hook', '--events', 'credits.nope')).toMatchObject({
      code: 2,
      err: expect.stringContaining('unknown event type(s) credits.nope'),
    });
    expect(await cli('notify', 'add', 'ftp://127.0.0.1/hook')).toMatchObject({ code: 2 });
    expect(await cli('notify', 'resend', 'evt_000000000000000000000000')).toMatchObject({ code: 1 });
    expect(await cli('notify', 'deliveries', '--failed')).toMatchObject({ code: 0, err: 'no failed deliveries' });
  });
});
