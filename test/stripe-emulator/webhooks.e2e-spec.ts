import Stripe from 'stripe';
import { startStripeEmulator, type StripeEmulator } from '../../apps/stripe-emulator/src';
import { control, sessionParams, startReceiver, stripeFor } from './helpers';
import { until } from '../support/until';

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

describe('Stripe emulator: hosted page, payments and webhooks', () => {
  let emulator: StripeEmulator;
  let stripe: Stripe;
  let receiver: Receiver;
  const secret = 'whsec_test_secret';
  const verifier = new Stripe('sk_test_x');

  beforeAll(async () => {
    receiver = await startReceiver();
    emulator = await startStripeEmulator({
      port: 0,
      webhookUrl: receiver.url,
      webhookSecret: secret,
      webhookRetryDelaysMs: [50, 100, 200],
    });
    stripe = stripeFor(emulator);
  });
  afterAll(async () => {
    await emulator.close();
    await receiver.close();
  });
  beforeEach(() => {
    emulator.reset();
    emulator.setWebhookUrl(receiver.url);
    receiver.received.length = 0;
    receiver.statuses.length = 0;
  });

  const verify = (body: string, header: string | string[] | undefined): Stripe.Event =>
    verifier.webhooks.constructEvent(body, String(header), secret);

  describe('hosted pay page', () => {
    it('renders what is bought with Pay and Cancel forms', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const res = await fetch(session.url!);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      const html = await res.text();
      expect(html).toContain('<html lang="en">');
      expect(html).toContain('1,000 credits');
      expect(html).toMatch(/Bundles<\/dt><dd>3</);
      expect(html).toMatch(/Credits<\/dt><dd>3000</);
      expect(html).toContain('$30.00');
      expect(html).toContain(`<form method="post" action="/pay/${session.id}/pay">`);
      expect(html).toMatch(/<select id="payment_method" name="payment_method"><option value="pm_card_visa">/);
      expect(html).toContain('<option value="pm_card_chargeCustomerFail">');
      expect(html).toContain('<button type="submit" id="pay">Pay $30.00</button>');
      expect(html).toContain(
        `<form method="post" action="/pay/${session.id}/cancel"><button type="submit" id="cancel">Cancel</button>`,
      );
      expect(html).not.toMatch(/<(script|link|img)\b/);
    });

    it('escapes what it shows', async () => {
      const session = await stripe.checkout.sessions.create(
        sessionParams({
          line_items: [
            { quantity: 1, price_data: { currency: 'eur', unit_amount: 990, product_data: { name: '<b>x</b>' } } },
          ],
        }),
      );
      const html = await (await fetch(session.url!)).text();
      expect(html).toContain('&#60;b&#62;x&#60;/b&#62;');
      expect(html).toContain('€9.90');
    });

    it('Pay completes the session, sends a signed checkout.session.completed and redirects to success_url with the id', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const res = await fetch(`${emulator.url}/pay/${session.id}/pay`, { method: 'POST', redirect: 'manual' });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(`http://localhost:5173/billing/success?session_id=${session.id}`);

      const paid = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent.latest_charge'] });
      expect(paid).toMatchObject({ status: 'complete', payment_status: 'paid', url: null });
      const intent = paid.payment_intent as Stripe.PaymentIntent;
      expect(intent).toMatchObject({ object: 'payment_intent', status: 'succeeded', amount: 3000, currency: 'usd' });
      expect(intent.id).toMatch(/^pi_/);
      expect(intent.latest_charge).toMatchObject({
        id: expect.stringMatching(/^ch_/),
        amount: 3000,
        paid: true,
        payment_intent: intent.id,
      });

      const delivery = await until("the emulator's deliveries", () => receiver.received[0]);
      const event = verify(delivery.body, delivery.headers['stripe-signature']);
      expect(event).toMatchObject({
        object: 'event',
        type: 'checkout.session.completed',
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
      });
      expect(event.id).toMatch(/^evt_/);
      expect(event.api_version).toBe(paid.lastResponse.headers['stripe-version']);
      expect(event.data.object).toMatchObject({
        id: session.id,
        status: 'complete',
        payment_status: 'paid',
        metadata: { org_id: 'org_1', credits: '3000' },
        payment_intent: intent.id,
      });
      expect(() =>
        verifier.webhooks.constructEvent(
          delivery.body.replace('3000', '3001'),
          String(delivery.headers['stripe-signature']),
          secret,
        ),
      ).toThrow(Stripe.errors.StripeSignatureVerificationError);
      expect(() => verify(delivery.body, 't=1,v1=00')).toThrow(Stripe.errors.StripeSignatureVerificationError);

      const events = await until("the emulator's deliveries", async () => {
        const list = (await control(emulator, 'GET', '/events')).body;
        return list[0]?.delivered ? list : undefined;
      });
      expect(events[0]).toMatchObject({
        id: event.id,
        delivered: true,
        state: 'succeeded',
        attempts: [{ status: 200, kind: 'automatic' }],
      });

      const again = await fetch(`${emulator.url}/pay/${session.id}`);
      expect(again.status).toBe(410);
      expect(await again.text()).toContain('already complete');
      const payAgain = await fetch(`${emulator.url}/pay/${session.id}/pay`, { method: 'POST', redirect: 'manual' });
      expect(payAgain.status).toBe(410);
    });

    it('Cancel redirects to cancel_url and leaves the session open', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const res = await fetch(`${emulator.url}/pay/${session.id}/cancel`, { method: 'POST', redirect: 'manual' });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('http://localhost:5173/billing/cancel');
      expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
    });

    it('answers 404 for an unknown session and 410 for an expired one', async () => {
      expect((await fetch(`${emulator.url}/pay/cs_test_unknown`)).status).toBe(404);
      const session = await stripe.checkout.sessions.create(sessionParams());
      await control(emulator, 'POST', `/sessions/${session.id}/expire`, { deliver: false });
      const res = await fetch(session.url!);
      expect(res.status).toBe(410);
      expect(await res.text()).toContain('expired');
    });
  });

  describe('delivery', () => {
    it('retries a failing receiver with backoff and records each attempt', async () => {
      receiver.statuses.push(500, 500);
      const session = await stripe.checkout.sessions.create(sessionParams());
      await control(emulator, 'POST', `/sessions/${session.id}/pay`);
      await until("the emulator's deliveries", () => receiver.received.length >= 3 && receiver.received);
      const events = await until("the emulator's deliveries", async () => {
        const list = (await control(emulator, 'GET', '/events')).body;
        return list[0]?.delivered ? list : undefined;
      });
      expect(events[0].attempts.map((a: { status: number }) => a.status)).toEqual([500, 500, 200]);
      expect(events[0].state).toBe('succeeded');
      const [a, b, c] = receiver.received.map((r) => r.at);
      expect(b - a).toBeGreaterThanOrEqual(45);
      expect(c - b).toBeGreaterThanOrEqual(95);
      // Same event on every attempt, each freshly signed.
      const ids = receiver.received.map((r) => verify(r.body, r.headers['stripe-signature']).id);
      expect(new Set(ids).size).toBe(1);
    });

    it('gives up after the last retry and survives a receiver that is down', async () => {
      emulator.setWebhookUrl('http://127.0.0.1:9/unreachable');
      const session = await stripe.checkout.sessions.create(sessionParams());
      await control(emulator, 'POST', `/sessions/${session.id}/pay`);
      const record = await until("the emulator's deliveries", async () => {
        const list = (await control(emulator, 'GET', '/events')).body;
        return list[0]?.state === 'failed' ? list[0] : undefined;
      });
      expect(record.delivered).toBe(false);
      expect(record.attempts).toHaveLength(4);
      expect(record.attempts[0].error).toMatch(/ECONNREFUSED/);
      expect((await control(emulator, 'GET', '/health')).body).toEqual({ ok: true });
    });

    it('builds events without delivering them, then delivers on demand: out of order, and again', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const paid = await control(emulator, 'POST', `/sessions/${session.id}/pay`, { deliver: false });
      const completed = paid.body.events[0];
      expect(completed).toMatchObject({
        type: 'checkout.session.completed',
        delivered: false,
        state: 'not_scheduled',
        attempts: [],
      });
      const refund = await control(emulator, 'POST', `/charges/${paid.body.charge.id}/refund`, { deliver: false });
      const refunded = refund.body.events[0];
      await new Promise((r) => setTimeout(r, 100));
      expect(receiver.received).toHaveLength(0);

      const delivered = await control(emulator, 'POST', '/events/deliver', { ids: [refunded.id, completed.id] });
      expect(delivered.body.map((d: { id: string; attempt: { status: number } }) => [d.id, d.attempt.status])).toEqual([
        [refunded.id, 200],
        [completed.id, 200],
      ]);
      const again = await control(emulator, 'POST', '/events/deliver', { ids: [completed.id] });
      expect(again.body[0].attempt).toMatchObject({ status: 200, kind: 'manual' });
      expect(receiver.received.map((r) => verify(r.body, r.headers['stripe-signature']).type)).toEqual([
        'charge.refunded',
        'checkout.session.completed',
        'checkout.session.completed',
      ]);

      const detail = await control(emulator, 'GET', `/events/${completed.id}`);
      expect(verify(detail.body.payload, detail.body.signature).id).toBe(completed.id);
      expect(detail.body.attempts).toHaveLength(2);
      expect((await control(emulator, 'GET', '/events/evt_nope')).status).toBe(404);
    });
  });

  describe('flows', () => {
    it('async payment: completed unpaid, then async_payment_succeeded', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const pay = await control(emulator, 'POST', `/sessions/${session.id}/pay`, { async: true });
      expect(pay.body.session).toMatchObject({ status: 'complete', payment_status: 'unpaid' });
      expect(pay.body.payment_intent).toMatchObject({ status: 'processing' });
      const ok = await control(emulator, 'POST', `/sessions/${session.id}/async_succeeded`);
      expect(ok.body.session).toMatchObject({ payment_status: 'paid' });
      expect(ok.body.charge).toMatchObject({ status: 'succeeded', paid: true });
      await until("the emulator's deliveries", () => receiver.received.length >= 2);
      const events = receiver.received.map((r) => verify(r.body, r.headers['stripe-signature']));
      const byType = Object.fromEntries(events.map((e) => [e.type, e.data.object as Stripe.Checkout.Session]));
      expect(byType['checkout.session.completed']).toMatchObject({ payment_status: 'unpaid' });
      expect(byType['checkout.session.async_payment_succeeded']).toMatchObject({ payment_status: 'paid' });
      expect((await control(emulator, 'POST', `/sessions/${session.id}/async_failed`)).status).toBe(400);
    });

    it('async payment failure sends async_payment_failed and leaves the session unpaid', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      await control(emulator, 'POST', `/sessions/${session.id}/pay`, { async: true, deliver: false });
      const failed = await control(emulator, 'POST', `/sessions/${session.id}/async_failed`);
      expect(failed.body.events[0].type).toBe('checkout.session.async_payment_failed');
      expect(failed.body.session).toMatchObject({ status: 'complete', payment_status: 'unpaid' });
      expect(failed.body.payment_intent).toMatchObject({ status: 'requires_payment_method' });
      const delivery = await until("the emulator's deliveries", () => receiver.received[0]);
      expect(verify(delivery.body, delivery.headers['stripe-signature']).type).toBe(
        'checkout.session.async_payment_failed',
      );
    });

    it('refunds: partial then the rest, cumulative amount_refunded, charge.refunded events', async () => {
      const session = await stripe.checkout.sessions.create(
        sessionParams({ payment_intent_data: { metadata: { org_id: 'org_1', checkout_session: 'x' } } }),
      );
      await control(emulator, 'POST', `/sessions/${session.id}/pay`, { deliver: false });
      const state = await control(emulator, 'GET', `/sessions/${session.id}`);
      const chargeId: string = state.body.charge.id;
      expect(state.body.payment_intent.latest_charge).toBe(chargeId);
      expect(state.body.line_items).toHaveLength(1);

      const partial = await control(emulator, 'POST', `/charges/${chargeId}/refund`, { amount: 1000 });
      expect(partial.body.charge).toMatchObject({ amount: 3000, amount_refunded: 1000, refunded: false });
      const rest = await control(emulator, 'POST', `/charges/${chargeId}/refund`);
      expect(rest.body.refund).toMatchObject({ object: 'refund', amount: 2000, charge: chargeId, status: 'succeeded' });
      expect(rest.body.charge).toMatchObject({ amount_refunded: 3000, refunded: true });
      expect((await control(emulator, 'POST', `/charges/${chargeId}/refund`)).status).toBe(400);

      await until("the emulator's deliveries", () => receiver.received.length >= 2);
      const events = receiver.received.map((r) => verify(r.body, r.headers['stripe-signature']));
      expect(events.map((e) => e.type)).toEqual(['charge.refunded', 'charge.refunded']);
      const last = events[1].data.object as Stripe.Charge;
      expect(last).toMatchObject({
        id: chargeId,
        amount: 3000,
        amount_refunded: 3000,
        refunded: true,
        payment_intent: state.body.payment_intent.id,
        metadata: { org_id: 'org_1', checkout_session: 'x' },
      });
      expect(last.refunds!.data.map((r) => r.amount)).toEqual([2000, 1000]);
      // The event is a snapshot: the first one still shows the partial refund.
      expect((events[0].data.object as Stripe.Charge).amount_refunded).toBe(1000);
      // The session is findable from the payment intent, as with Stripe.
      const found = await stripe.checkout.sessions.list({ payment_intent: state.body.payment_intent.id });
      expect(found.data.map((s) => s.id)).toEqual([session.id]);
    });

    it('expire control sends checkout.session.expired; reset() clears everything', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const expired = await control(emulator, 'POST', `/sessions/${session.id}/expire`);
      expect(expired.body.session).toMatchObject({ status: 'expired' });
      const delivery = await until("the emulator's deliveries", () => receiver.received[0]);
      expect(verify(delivery.body, delivery.headers['stripe-signature']).type).toBe('checkout.session.expired');
      expect((await control(emulator, 'POST', `/sessions/${session.id}/pay`)).status).toBe(410);

      await control(emulator, 'POST', '/faults', { path: '/v1/x', status: 500 });
      emulator.reset();
      expect((await control(emulator, 'GET', '/events')).body).toEqual([]);
      expect((await control(emulator, 'GET', '/faults')).body).toEqual([]);
      expect((await control(emulator, 'GET', '/requests')).body).toEqual([]);
      expect((await control(emulator, 'GET', `/sessions/${session.id}`)).status).toBe(404);
    });
  });
});
