import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { HoldExpirySchedule, LedgerService } from '@credits/billing';
import { creditHolds, creditLedger, idempotencyKeys, organizations, rows } from '@credits/database';
import { bearer, SPEND } from '../../support/auth';
import { envelope } from '../../support/envelope';
import { startTestApp, type TestApp } from '../../support/test-app';

/**
 * Holds (DESIGN §1.1): credits reserved, then captured (one usage entry) or released, or left
 * to expire. Runs on PGlite and, with TEST_DATABASE_URL, on PostgreSQL.
 */
describe('credit holds', () => {
  let t: TestApp;
  let key: string;
  let otherKey: string;
  let orgId: string;
  let slug: string;
  let n = 0;

  const base = () => `/api/v1/org/${slug}/credits/holds`;
  const grant = (org: string, amount: number) =>
    t.db.transaction((tx) =>
      t.app.get(LedgerService).apply(tx, {
        orgId: org,
        amount,
        transactionType: 'admin_adjustment',
        description: 'test grant',
        sourceRef: `test:${randomUUID()}`,
      }),
    );
  /** What GET /credits reports as `available_balance`: balance − Σ holds that count now. */
  const available = async (org = orgId): Promise<number> => {
    const [row] = await rows<{ available: string }>(
      t.db,
      sql`select coalesce((select balance from credit_balances where org_id = ${org}::uuid), 0)
            - coalesce((select sum(amount) from credit_holds
                        where org_id = ${org}::uuid and status = 'active' and expires_at > now()), 0) as available`,
    );
    return Number(row.available);
  };
  const balance = async (): Promise<number> => {
    const [row] = await rows<{ balance: string }>(
      t.db,
      sql`select balance from credit_balances where org_id = ${orgId}::uuid`,
    );
    return Number(row.balance);
  };
  const holdCount = async () => (await t.db.select().from(creditHolds).where(eq(creditHolds.orgId, orgId))).length;
  const create = (body: unknown, idempotencyKey: string = randomUUID(), as = key) =>
    t.request('POST', base(), { headers: bearer(as, { 'idempotency-key': idempotencyKey }), body });
  const hold = async (amount: number, extra: Record<string, unknown> = {}) => {
    const res = await create({ amount, ...extra });
    expect(res.status).toBe(201);
    return res.body as { id: string; amount: number; status: string; expires_at: string };
  };
  /** No body: capture all of it. */
  const capture = (id: string, body?: unknown) =>
    t.request('POST', `${base()}/${id}/capture`, { headers: bearer(key), body });
  const release = (id: string) => t.request('POST', `${base()}/${id}/release`, { headers: bearer(key) });
  const get = (id: string, as = key) => t.request('GET', `${base()}/${id}`, { headers: bearer(as) });
  const expireNow = (id: string) =>
    t.db
      .update(creditHolds)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(creditHolds.id, id));

  beforeAll(async () => {
    t = await startTestApp();
    otherKey = await t.member('other', 'host@other.test', 'member', SPEND);
  });
  afterAll(() => t?.close());

  // Each test has an org of its own with 1000 credits.
  beforeEach(async () => {
    slug = `host-${++n}`;
    key = await t.member(slug, `host@${slug}.test`, 'member', SPEND);
    [{ id: orgId }] = await t.db.select().from(organizations).where(eq(organizations.slug, slug));
    await grant(orgId, 1000);
  });

  it('reserves credits: 201 with the hold, and the available balance drops by its amount', async () => {
    const before = Date.now();
    const res = await create({ amount: 300, description: 'sandbox sbx_1', metadata: { sandbox: 'sbx_1' } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      amount: 300,
      status: 'active',
      captured_amount: null,
      description: 'sandbox sbx_1',
      metadata: { sandbox: 'sbx_1' },
      created_at: expect.any(String),
      expires_at: expect.any(String),
      captured_at: null,
      released_at: null,
    });
    // The default lifetime: 900 s.
    const lifetime = Date.parse(res.body.expires_at) - Date.parse(res.body.created_at);
    expect(Math.abs(lifetime - 900_000)).toBeLessThan(1000);
    expect(Math.abs(Date.parse(res.body.created_at) - before)).toBeLessThan(60_000);
    expect(await balance()).toBe(1000);
    expect(await available()).toBe(700);

    expect((await get(res.body.id)).body).toEqual(res.body);
    const listed = await t.request('GET', `${base()}?status=active`, { headers: bearer(key) });
    expect(listed.body).toEqual({ data: [res.body], has_more: false, next_cursor: null });
  });

  it('refuses a hold larger than the available balance: 402, nothing written', async () => {
    await hold(600);
    const res = await create({ amount: 401 });
    expect(res.status).toBe(402);
    expect(res.body).toEqual(envelope(402, 'insufficient_credits_error'));
    expect(await holdCount()).toBe(1);
    expect(await available()).toBe(400);
    // Exactly what is available is fine.
    await hold(400);
    expect(await available()).toBe(0);
  });

  it('an operator’s negative adjustment cannot take credits a hold reserved', async () => {
    await hold(800);
    // 1000 in the balance, 200 available: removing 500 would leave the hold uncovered.
    await expect(grant(orgId, -500)).rejects.toMatchObject({ balance: 1000, available: 200, amount: -500 });
    expect(await balance()).toBe(1000);
    expect((await grant(orgId, -200)).balance).toBe(800);
    expect(await available()).toBe(0);
  });

  const invalidBodies: [unknown, string[], string][] = [
    [{}, ['body', 'amount'], 'missing'],
    [{ amount: 0 }, ['body', 'amount'], 'greater_than_equal'],
    [{ amount: -5 }, ['body', 'amount'], 'greater_than_equal'],
    [{ amount: 1.5 }, ['body', 'amount'], 'int_type'],
    [{ amount: '5' }, ['body', 'amount'], 'int_type'],
    [{ amount: 1_000_000_001 }, ['body', 'amount'], 'less_than_equal'],
    [{ amount: 1, expires_in: 0 }, ['body', 'expires_in'], 'greater_than_equal'],
    [{ amount: 1, expires_in: 86_401 }, ['body', 'expires_in'], 'less_than_equal'],
    [{ amount: 1, expires_in: 2.5 }, ['body', 'expires_in'], 'int_type'],
    [{ amount: 1, expires_in: '60' }, ['body', 'expires_in'], 'int_type'],
    [{ amount: 1, description: 'x'.repeat(501) }, ['body', 'description'], 'string_too_long'],
    [{ amount: 1, description: 7 }, ['body', 'description'], 'string_type'],
    [{ amount: 1, metadata: ['a'] }, ['body', 'metadata'], 'dict_type'],
    [{ amount: 1, metadata: 'a' }, ['body', 'metadata'], 'dict_type'],
    [
      { amount: 1, metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])) },
      ['body', 'metadata'],
      'too_long',
    ],
    [{ amount: 1, metadata: { ['k'.repeat(41)]: 'v' } }, ['body', 'metadata'], 'string_too_long'],
    [{ amount: 1, metadata: { k: 'v'.repeat(501) } }, ['body', 'metadata'], 'string_too_long'],
    [{ amount: 1, metadata: { k: 1 } }, ['body', 'metadata'], 'string_type'],
    [{ amount: 1, other: true }, ['body', 'other'], 'extra_forbidden'],
  ];
  it.each(invalidBodies.map(([body, loc, type]) => [JSON.stringify(body).slice(0, 60), body, loc, type] as const))(
    'refuses %s: 422 at its field',
    async (_label, body, loc, type) => {
      const res = await create(body);
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ code: 422, type: 'validation_error', errors: [{ loc, type }] });
      expect(await holdCount()).toBe(0);
    },
  );

  it('refuses text PostgreSQL cannot store (a lone surrogate, U+0000): 422 naming the field, nothing written', async () => {
    // Sent as JSON escapes, the only way JSON carries them; a lone surrogate made jsonb fail (500).
    for (const [raw, loc] of [
      ['{"amount": 1, "metadata": {"job": "\\ud800"}}', ['body', 'metadata', 'job']],
      ['{"amount": 1, "description": "a\\udc00b"}', ['body', 'description']],
      ['{"amount": 1, "metadata": {"j\\u0000b": "x"}}', ['body', 'metadata', 'j\u0000b']],
    ] as const) {
      const res = await t.request('POST', base(), {
        headers: bearer(key, { 'idempotency-key': randomUUID(), 'content-type': 'application/json' }),
        raw,
      });
      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ loc, type: 'string_unstorable' })]);
    }
    // A well-formed pair (an emoji written as escapes) is text like any other.
    const emoji = await t.request('POST', base(), {
      headers: bearer(key, { 'idempotency-key': randomUUID(), 'content-type': 'application/json' }),
      raw: '{"amount": 1, "metadata": {"job": "\\ud83d\\ude80"}}',
    });
    expect(emoji.status).toBe(201);
    expect(emoji.body.metadata).toEqual({ job: '🚀' });
    expect(await holdCount()).toBe(1);
  });

  it('accepts the bounds: 1 and 1,000,000,000 credits (if available), 1 and 86,400 s, 20 metadata keys', async () => {
    await grant(orgId, 999_999_000);
    const metadata = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`k${i}`.padEnd(40, 'x'), 'v'.repeat(500)]),
    );
    expect((await create({ amount: 1, expires_in: 1 })).status).toBe(201);
    expect((await create({ amount: 999_999_999, expires_in: 86_400, metadata })).status).toBe(201);
    await t.db.update(creditHolds).set({ status: 'released' }).where(eq(creditHolds.orgId, orgId));
    expect((await create({ amount: 1_000_000_000 })).status).toBe(201);
  });

  it('requires an Idempotency-Key, and replays the first answer for the same key and body', async () => {
    const missing = await t.request('POST', base(), { headers: bearer(key), body: { amount: 10 } });
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toEqual([
      { loc: ['header', 'idempotency-key'], msg: 'Field required', type: 'missing' },
    ]);

    const first = await create({ amount: 100 }, 'hold-1');
    const again = await create({ amount: 100 }, 'hold-1');
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await holdCount()).toBe(1);
    expect(await available()).toBe(900);

    const otherBody = await create({ amount: 200 }, 'hold-1');
    expect(otherBody.status).toBe(409);
    expect(otherBody.body).toEqual(envelope(409, 'conflict_error'));
    expect(await holdCount()).toBe(1);
  });

  it('one key makes one hold even when its stored answer is lost (a crash before it was stored)', async () => {
    const first = await create({ amount: 100, metadata: { run: 'r1' } }, 'hold-2');
    const forget = () => t.db.delete(idempotencyKeys).where(eq(idempotencyKeys.key, 'hold-2'));
    await forget();
    const again = await create({ amount: 100, metadata: { run: 'r1' } }, 'hold-2');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(await holdCount()).toBe(1);
    expect(await available()).toBe(900);

    await forget();
    const otherBody = await create({ amount: 100, metadata: { run: 'r2' } }, 'hold-2');
    expect(otherBody.body).toEqual(envelope(409, 'conflict_error'));
    // Another caller's key of the same text is another hold.
    const otherCaller = await t.member(slug, `second@${slug}.test`, 'member', SPEND);
    expect((await create({ amount: 100 }, 'hold-2', otherCaller)).body.id).not.toBe(first.body.id);
    expect(await holdCount()).toBe(2);
  });

  it('captures all of a hold by default: one usage entry, the balance lowered', async () => {
    const { id } = await hold(300, { description: 'sandbox sbx_2' });
    const res = await capture(id);
    expect(res.status).toBe(200);
    expect(res.body.hold).toMatchObject({
      id,
      status: 'captured',
      captured_amount: 300,
      captured_at: expect.any(String),
    });
    expect(res.body.transaction).toEqual({
      id: expect.any(String),
      amount: -300,
      balance_after: 700,
      transaction_type: 'usage',
      description: 'sandbox sbx_2',
      created_at: expect.any(String),
      checkout_session_id: null,
      receipt_url: null,
    });
    const entries = await t.db
      .select()
      .from(creditLedger)
      .where(eq(creditLedger.sourceRef, `hold:${id}`));
    expect(entries).toEqual([expect.objectContaining({ id: res.body.transaction.id, amount: -300, orgId })]);
    expect(await balance()).toBe(700);
    expect(await available()).toBe(700);
    expect((await get(id)).body).toEqual(res.body.hold);
  });

  it('captures part of a hold: that much is spent, the rest is available again', async () => {
    const { id } = await hold(500);
    await hold(100);
    const res = await capture(id, { amount: 120 });
    expect(res.status).toBe(200);
    expect(res.body.hold).toMatchObject({ status: 'captured', amount: 500, captured_amount: 120 });
    expect(res.body.transaction).toMatchObject({ amount: -120, balance_after: 880, transaction_type: 'usage' });
    expect(await balance()).toBe(880);
    expect(await available()).toBe(780);
  });

  it('refuses to capture more than held: 422, the hold still active', async () => {
    const { id } = await hold(50);
    const res = await capture(id, { amount: 51 });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      type: 'validation_error',
      errors: [{ loc: ['body', 'amount'], type: 'less_than_equal' }],
    });
    expect((await capture(id, { amount: 0 })).status).toBe(422);
    expect((await capture(id, { amount: 'all' })).body).toMatchObject({
      errors: [{ loc: ['body', 'amount'], type: 'int_type' }],
    });
    expect((await capture(id, { amount: 1, extra: 1 })).body).toMatchObject({ errors: [{ loc: ['body', 'extra'] }] });
    expect((await get(id)).body.status).toBe('active');
    expect(await balance()).toBe(1000);
    expect(await available()).toBe(950);
  });

  it('releases a hold; releasing it again answers it again; capturing it is 409', async () => {
    const { id } = await hold(400);
    const released = await release(id);
    expect(released.status).toBe(200);
    expect(released.body).toEqual({
      hold: expect.objectContaining({ id, status: 'released', captured_amount: null, released_at: expect.any(String) }),
    });
    expect(await available()).toBe(1000);

    const again = await release(id);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(released.body);

    const captured = await capture(id);
    expect(captured.status).toBe(409);
    expect(captured.body).toEqual(envelope(409, 'conflict_error'));
    expect(await balance()).toBe(1000);
  });

  it('refuses to release or capture again a captured hold: 409', async () => {
    const { id } = await hold(10);
    expect((await capture(id)).status).toBe(200);
    expect((await release(id)).body).toEqual(envelope(409, 'conflict_error'));
    expect((await capture(id)).body).toEqual(envelope(409, 'conflict_error'));
    expect(await balance()).toBe(990);
    expect(
      await t.db
        .select()
        .from(creditLedger)
        .where(eq(creditLedger.sourceRef, `hold:${id}`)),
    ).toHaveLength(1);
  });

  it('an expired hold stops counting at its expires_at, with no sweeper, and cannot be captured or released', async () => {
    const { id } = await hold(700);
    await hold(100);
    expect(await available()).toBe(200);
    await expireNow(id);

    expect(await available()).toBe(900);
    expect((await get(id)).body.status).toBe('expired');
    // Its credits can be held again at once.
    await hold(900);
    expect((await capture(id)).body).toEqual(envelope(409, 'conflict_error'));
    expect((await release(id)).body).toEqual(envelope(409, 'conflict_error'));
    expect(await balance()).toBe(1000);

    const expired = await t.request('GET', `${base()}?status=expired`, { headers: bearer(key) });
    expect(expired.body.data.map((h: { id: string }) => h.id)).toEqual([id]);
    const active = await t.request('GET', `${base()}?status=active`, { headers: bearer(key) });
    expect(active.body.data.map((h: { amount: number }) => h.amount)).toEqual([900, 100]);
  });

  it('a hold made for 1 s reads expired once its expires_at has passed', async () => {
    const { id, expires_at } = await hold(1000, { expires_in: 1 });
    expect(await available()).toBe(0);
    // Wait on the clock for the moment the hold names, not for a guessed while.
    while (Date.now() <= Date.parse(expires_at) + 50) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(10, Date.parse(expires_at) + 60 - Date.now())));
    }
    expect((await get(id)).body.status).toBe('expired');
    expect(await available()).toBe(1000);
    expect((await capture(id)).status).toBe(409);
  });

  it('a capture that waits for the balance lock past the hold’s expiry is 409, never a spend a new hold no longer counts', async () => {
    const { id, expires_at } = await hold(1000, { expires_in: 1 });
    let captured: ReturnType<typeof capture> | undefined;
    // Another writer (a new hold, a debit) holds the org's balance row while the hold expires;
    // a new hold taking it at that moment counts this one as expired and may reserve its credits.
    await t.db.transaction(async (tx) => {
      await tx.execute(sql`select balance from credit_balances where org_id = ${orgId}::uuid for update`);
      captured = capture(id);
      while (Date.now() <= Date.parse(expires_at) + 50) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(10, Date.parse(expires_at) + 60 - Date.now())));
      }
    });
    const res = await captured!;
    expect(res.status).toBe(409);
    expect(res.body).toEqual(envelope(409, 'conflict_error'));
    expect(await balance()).toBe(1000);
  });

  it('the sweeper marks holds past their expires_at expired, once, and leaves the others', async () => {
    const due = await hold(100);
    const live = await hold(100);
    const released = await hold(100);
    await release(released.id);
    await expireNow(due.id);

    const sweep = t.app.get(HoldExpirySchedule);
    expect(await sweep.run()).toBeGreaterThanOrEqual(1);
    const statuses = async () =>
      Object.fromEntries(
        (await t.db.select().from(creditHolds).where(eq(creditHolds.orgId, orgId))).map((h) => [h.id, h.status]),
      );
    expect(await statuses()).toEqual({ [due.id]: 'expired', [live.id]: 'active', [released.id]: 'released' });
    expect(await sweep.run()).toBe(0);
    expect(await statuses()).toEqual({ [due.id]: 'expired', [live.id]: 'active', [released.id]: 'released' });
    expect((await get(due.id)).body.status).toBe('expired');
    expect(await available()).toBe(900);
  });

  it('of concurrent captures of one hold exactly one wins; the others are 409', async () => {
    for (let round = 0; round < 5; round++) {
      const { id } = await hold(100);
      const answers = await Promise.all([capture(id, { amount: 60 }), capture(id), capture(id, {})]);
      expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409]);
      expect(
        await t.db
          .select()
          .from(creditLedger)
          .where(eq(creditLedger.sourceRef, `hold:${id}`)),
      ).toHaveLength(1);
    }
    const [{ spent }] = await rows<{ spent: string }>(
      t.db,
      sql`select coalesce(sum(captured_amount), 0) as spent from credit_holds where org_id = ${orgId}::uuid`,
    );
    expect(await balance()).toBe(1000 - Number(spent));
  });

  it('a capture and a release racing on one hold: one wins, and the hold says what happened to the credits', async () => {
    for (let round = 0; round < 6; round++) {
      const { id } = await hold(100);
      // Each starts first in turn.
      const [captured, released] =
        round % 2
          ? await Promise.all([capture(id), release(id)])
          : (await Promise.all([release(id), capture(id)])).reverse();
      expect([captured.status, released.status].sort()).toEqual([200, 409]);
      const entries = await t.db
        .select()
        .from(creditLedger)
        .where(eq(creditLedger.sourceRef, `hold:${id}`));
      const { status } = (await get(id)).body;
      if (captured.status === 200) {
        expect(status).toBe('captured');
        expect(entries).toHaveLength(1);
      } else {
        expect(status).toBe('released');
        expect(entries).toHaveLength(0);
      }
    }
  });

  it('concurrent holds never reserve more than is available', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => create({ amount: 300 })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(3);
    expect(answers.filter((a) => a.status === 402)).toHaveLength(5);
    expect(await available()).toBe(100);
  });

  it("another org's hold, or an id that is none, is 404 to read, capture or release", async () => {
    const { id } = await hold(100);
    for (const res of [
      await get(id, otherKey),
      await t.request('POST', `/api/v1/org/other/credits/holds/${id}/capture`, { headers: bearer(otherKey), body: {} }),
      await t.request('POST', `/api/v1/org/other/credits/holds/${id}/release`, { headers: bearer(otherKey) }),
      await get(randomUUID()),
      await get('not-a-uuid'),
      await release('not-a-uuid'),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body).toEqual(envelope(404, 'not_found_error'));
    }
    expect((await get(id)).body.status).toBe('active');
  });

  it('lists holds newest first, a page at a time, filtered by status', async () => {
    const made = [];
    for (let i = 1; i <= 5; i++) made.push(await hold(i));
    await release(made[1].id);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await t.request('GET', `${base()}${query}`, { headers: bearer(key) });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((h: { amount: number }) => h.amount));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([5, 4, 3, 2, 1]);

    const released = await t.request('GET', `${base()}?status=released`, { headers: bearer(key) });
    expect(released.body.data.map((h: { amount: number }) => h.amount)).toEqual([2]);
    const bad = await t.request('GET', `${base()}?status=open`, { headers: bearer(key) });
    expect(bad.body).toMatchObject({ code: 422, errors: [{ loc: ['query', 'status'], type: 'enum' }] });
    const badCursor = await t.request('GET', `${base()}?cursor=nope`, { headers: bearer(key) });
    expect(badCursor.body).toMatchObject({ code: 422, errors: [{ loc: ['query', 'cursor'] }] });
  });
});
