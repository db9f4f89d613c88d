import { eq } from 'drizzle-orm';
import { AutoRefillRepository } from '@credits/billing';
import { organizations } from '@credits/database';
import { bearer } from '../../support/auth';
import { startTestApp, TestApp } from '../../support/test-app';

const PATH = '/api/v1/org/acme/credits/auto-refill';

/** GET/PUT /credits/auto-refill: shape, bounds, roles, and no enabling without a saved card. */
describe('auto-refill settings', () => {
  let t: TestApp;
  let ownerKey: string;
  let adminKey: string;
  let memberKey: string;
  let acmeId: string;

  const put = (body: unknown, key = adminKey) => t.request('PUT', PATH, { headers: bearer(key), body });
  const saveCard = () =>
    t.db.transaction((tx) =>
      t.app.get(AutoRefillRepository).in(tx).saveCard(acmeId, {
        paymentMethodId: 'pm_card_visa',
        brand: 'visa',
        last4: '4242',
        expMonth: 12,
        expYear: 2030,
      }),
    );

  beforeAll(async () => {
    t = await startTestApp();
    ownerKey = await t.member('acme', 'owner@acme.test', 'owner');
    adminKey = await t.member('acme', 'admin@acme.test', 'admin');
    memberKey = await t.member('acme', 'member@acme.test', 'member');
    acmeId = (await t.db.select().from(organizations).where(eq(organizations.slug, 'acme')))[0].id;
  });
  afterAll(() => t?.close());

  it('answers defaults, off and without a card, before anything was chosen; any member may read', async () => {
    const res = await t.request('GET', PATH, { headers: bearer(memberKey) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      enabled: false,
      threshold: 0,
      quantity: 1,
      monthly_limit: 5,
      payment_method: null,
      refills_this_month: 0,
      last_failure: null,
    });
  });

  it('refuses to enable without a saved card: 422 payment_method_required at body.enabled', async () => {
    const res = await put({ enabled: true, threshold: 500, quantity: 1 });
    expect(res.status).toBe(422);
    expect(res.body.type).toBe('validation_error');
    expect(res.body.errors).toEqual([
      { loc: ['body', 'enabled'], msg: expect.any(String), type: 'payment_method_required' },
    ]);
    // Nothing was written.
    expect((await t.request('GET', PATH, { headers: bearer(memberKey) })).body.enabled).toBe(false);
  });

  it('stores settings while off without a card, monthly_limit defaulting to 5', async () => {
    const res = await put({ enabled: false, threshold: 250, quantity: 3 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ enabled: false, threshold: 250, quantity: 3, monthly_limit: 5 });
  });

  it.each([
    [{ threshold: 1, quantity: 1 }, ['body', 'enabled']],
    [{ enabled: 'yes', threshold: 1, quantity: 1 }, ['body', 'enabled']],
    [{ enabled: false, threshold: -1, quantity: 1 }, ['body', 'threshold']],
    [{ enabled: false, threshold: 1_000_000_001, quantity: 1 }, ['body', 'threshold']],
    [{ enabled: false, threshold: 1.5, quantity: 1 }, ['body', 'threshold']],
    [{ enabled: false, quantity: 1 }, ['body', 'threshold']],
    [{ enabled: false, threshold: 1, quantity: 0 }, ['body', 'quantity']],
    [{ enabled: false, threshold: 1, quantity: 11 }, ['body', 'quantity']],
    [{ enabled: false, threshold: 1, quantity: 1, monthly_limit: 0 }, ['body', 'monthly_limit']],
    [{ enabled: false, threshold: 1, quantity: 1, monthly_limit: 101 }, ['body', 'monthly_limit']],
  ])('422 validation_error for %j at %j', async (body, loc) => {
    const res = await put(body);
    expect(res.status).toBe(422);
    expect(res.body.type).toBe('validation_error');
    expect(res.body.errors.map((e: { loc: unknown }) => e.loc)).toContainEqual(loc);
  });

  it('accepts the bounds: threshold 0 and 10^9, quantity 1 and 10, monthly_limit 1 and 100', async () => {
    expect((await put({ enabled: false, threshold: 0, quantity: 1, monthly_limit: 1 })).status).toBe(200);
    const res = await put({ enabled: false, threshold: 1_000_000_000, quantity: 10, monthly_limit: 100 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ threshold: 1_000_000_000, quantity: 10, monthly_limit: 100 });
  });

  it('a member may not change them (403); an owner may', async () => {
    expect((await put({ enabled: false, threshold: 1, quantity: 1 }, memberKey)).status).toBe(403);
    expect((await put({ enabled: false, threshold: 1, quantity: 1 }, ownerKey)).status).toBe(200);
  });

  it("an admin's key narrowed to credits:read reads them but may not change them (403)", async () => {
    const { key } = await t.admin.createApiKey('admin@acme.test', 'read-only', undefined, ['credits:read']);
    expect((await t.request('GET', PATH, { headers: bearer(key) })).status).toBe(200);
    expect((await put({ enabled: false, threshold: 1, quantity: 1 }, key)).status).toBe(403);
  });

  it('with a saved card: enables, shows the card, and GET /credits tells auto_refill_enabled', async () => {
    await saveCard();
    const res = await put({ enabled: true, threshold: 0, quantity: 2, monthly_limit: 7 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      enabled: true,
      threshold: 0,
      quantity: 2,
      monthly_limit: 7,
      payment_method: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030 },
      refills_this_month: 0,
      last_failure: null,
    });
    const credits = await t.request('GET', '/api/v1/org/acme/credits', { headers: bearer(memberKey) });
    expect(credits.body.auto_refill_enabled).toBe(true);
    await put({ enabled: false, threshold: 0, quantity: 2 });
    expect(
      (await t.request('GET', '/api/v1/org/acme/credits', { headers: bearer(memberKey) })).body.auto_refill_enabled,
    ).toBe(false);
  });
});
