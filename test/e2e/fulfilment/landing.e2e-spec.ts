import { eq } from 'drizzle-orm';
import { creditLedger } from '@credits/database';
import { startStack, Stack } from '../../support/stack';
import { count, createSession, expectLedgerConsistent, payloadOf, payQuietly, postWebhook } from './helpers';

/**
 * The success page's call, `GET …/credits/checkout/{session_id}`, over real HTTP with the
 * emulator: a purchase whose webhook has not come is granted by the page's call, once,
 * whatever the webhook does afterwards.
 */
describe('GET /api/v1/org/{org}/credits/checkout/{session_id}', () => {
  let s: Stack;
  let admin: string;
  let member: string;
  let otherAdmin: string;

  const status = (sessionId: string, key = member, org = 'acme') =>
    s.request('GET', `/api/v1/org/${org}/credits/checkout/${sessionId}`, {
      headers: { authorization: `Bearer ${key}` },
    });
  /** The page's answer for a session whose state it can tell: 200, whatever that state is. */
  const answered = async (sessionId: string) => {
    const res = await status(sessionId);
    expect(res.status).toBe(200);
    return res.body;
  };
  const purchaseEntries = (sessionId: string) =>
    s.db.select().from(creditLedger).where(eq(creditLedger.checkoutSessionId, sessionId));

  beforeAll(async () => {
    s = await startStack({ env: { CREDITS_PER_BUNDLE: '1000' } });
    admin = await s.member('acme', 'admin@acme.test', 'admin');
    member = await s.member('acme', 'member@acme.test', 'member');
    otherAdmin = await s.member('other', 'admin@other.test', 'admin');
  });
  afterAll(() => s?.close());
  afterEach(() => expectLedgerConsistent(s.db));

  it('answers an unpaid session as open, not fulfilled', async () => {
    const sessionId = await createSession(s, admin, 'acme', 2);
    expect(await answered(sessionId)).toEqual({
      session_id: sessionId,
      status: 'open',
      payment_status: 'unpaid',
      credits: 2000,
      fulfilled: false,
      expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('grants a purchase paid while webhooks are not delivered; the late webhook grants nothing more', async () => {
    const sessionId = await createSession(s, admin, 'acme');
    const { eventId } = await payQuietly(s, sessionId);

    expect(await answered(sessionId)).toMatchObject({
      session_id: sessionId,
      status: 'complete',
      payment_status: 'paid',
      fulfilled: true,
    });
    expect(await purchaseEntries(sessionId)).toHaveLength(1);
    const balance = (
      await s.request('GET', '/api/v1/org/acme/credits', { headers: { authorization: `Bearer ${member}` } })
    ).body.balance as number;

    // The webhook, delivered late, finds the grant done.
    expect((await postWebhook(s, await payloadOf(s, eventId))).status).toBe(200);
    expect(await purchaseEntries(sessionId)).toHaveLength(1);
    // Asked again, the page is answered from our record, without Stripe.
    const retrieves = (await s.stripeRequests(`/v1/checkout/sessions/${sessionId}`, 'GET')).length;
    expect((await status(sessionId)).body).toMatchObject({ fulfilled: true });
    expect(await s.stripeRequests(`/v1/checkout/sessions/${sessionId}`, 'GET')).toHaveLength(retrieves);
    expect(
      (await s.request('GET', '/api/v1/org/acme/credits', { headers: { authorization: `Bearer ${member}` } })).body
        .balance,
    ).toBe(balance);
  });

  it("answers another org's session and an unknown one with the same 404, without asking Stripe", async () => {
    const sessionId = await createSession(s, admin, 'acme');
    await payQuietly(s, sessionId);
    const before = (await s.stripeRequests(`/v1/checkout/sessions/${sessionId}`, 'GET')).length;

    const foreign = await status(sessionId, otherAdmin, 'other');
    const unknown = await status('cs_test_unknown', otherAdmin, 'other');
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual({
      code: 404,
      detail: 'Checkout session not found',
      errors: null,
      type: 'not_found_error',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(foreign.body);
    expect(await s.stripeRequests(`/v1/checkout/sessions/${sessionId}`, 'GET')).toHaveLength(before);
    expect(await s.stripeRequests('/v1/checkout/sessions/cs_test_unknown', 'GET')).toHaveLength(0);
    expect(await purchaseEntries(sessionId)).toHaveLength(0);
  });

  it('marks a session Stripe expired as expired', async () => {
    const sessionId = await createSession(s, admin, 'acme');
    await s.control('POST', `/sessions/${sessionId}/expire`, { deliver: false });
    expect((await status(sessionId)).body).toMatchObject({ status: 'expired', fulfilled: false });
  });

  it('answers 502 in the envelope when Stripe fails, with nothing written', async () => {
    const sessionId = await createSession(s, admin, 'acme');
    await payQuietly(s, sessionId);
    const ledger = await count(s.db, 'credit_ledger');
    await s.control('POST', '/faults', { path: `/v1/checkout/sessions/${sessionId}`, method: 'GET', status: 500 });
    try {
      const res = await status(sessionId);
      expect(res.status).toBe(502);
      expect(res.body).toMatchObject({ code: 502, type: 'payment_provider_error' });
    } finally {
      await s.control('DELETE', '/faults');
    }
    expect(await count(s.db, 'credit_ledger')).toBe(ledger);
    expect((await status(sessionId)).body).toMatchObject({ fulfilled: true });
  });
});
