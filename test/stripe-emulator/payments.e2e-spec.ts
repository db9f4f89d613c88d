import Stripe from 'stripe';
import { startStripeEmulator, type StripeEmulator } from '../../apps/stripe-emulator/src';
import { control, sessionParams, startReceiver, stripeFor } from './helpers';
import { until } from '../support/until';

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Saved cards and off-session PaymentIntents (auto-refill), through the real stripe SDK. */
describe('Stripe emulator: saved cards and off-session payments', () => {
  let emulator: StripeEmulator;
  let stripe: Stripe;
  let receiver: Receiver;
  const verifier = new Stripe('sk_test_verifier');

  beforeAll(async () => {
    receiver = await startReceiver();
    emulator = await startStripeEmulator({ port: 0, webhookUrl: receiver.url, webhookRetryDelaysMs: [50] });
    stripe = stripeFor(emulator);
  });
  afterAll(async () => {
    await emulator.close();
    await receiver.close();
  });
  beforeEach(() => {
    emulator.reset();
    receiver.received.length = 0;
  });

  /** The events the webhook receiver got, verified like the API verifies them. */
  function delivered(): Stripe.Event[] {
    return receiver.received.map((r) =>
      verifier.webhooks.constructEvent(r.body, String(r.headers['stripe-signature']), emulator.webhookSecret),
    );
  }

  /** A customer whose card was saved by paying a checkout session with `setup_future_usage`. */
  async function savedCard(card = 'pm_card_visa'): Promise<{ customer: string; paymentMethod: string }> {
    const customer = await stripe.customers.create({ email: 'billing@acme.test' });
    const session = await stripe.checkout.sessions.create(
      sessionParams({ customer: customer.id, payment_intent_data: { setup_future_usage: 'off_session' } }),
    );
    const paid = await control(emulator, 'POST', `/sessions/${session.id}/pay`, { payment_method: card });
    expect(paid.status).toBe(200);
    return { customer: customer.id, paymentMethod: paid.body.payment_intent.payment_method as string };
  }

  function offSession(customer: string, paymentMethod: string, idempotencyKey?: string) {
    return stripe.paymentIntents.create(
      {
        amount: 1000,
        currency: 'usd',
        customer,
        payment_method: paymentMethod,
        off_session: true,
        confirm: true,
        metadata: { org_id: 'org_1', refill_id: 'r1' },
      },
      idempotencyKey ? { idempotencyKey } : {},
    );
  }

  it('checkout with setup_future_usage saves the card to the customer, with its PaymentIntent and charge', async () => {
    const { customer, paymentMethod } = await savedCard();
    expect(paymentMethod).toMatch(/^pm_[A-Za-z0-9]{24}$/);

    const pm = await stripe.paymentMethods.retrieve(paymentMethod);
    expect(pm).toMatchObject({ object: 'payment_method', type: 'card', customer });
    expect(pm.card).toMatchObject({ brand: 'visa', last4: '4242', exp_month: 12 });
    expect(pm.card!.exp_year).toBeGreaterThan(new Date().getUTCFullYear());

    const [session] = (await stripe.checkout.sessions.list({ customer })).data;
    const intent = await stripe.paymentIntents.retrieve(session.payment_intent as string, {
      expand: ['latest_charge'],
    });
    expect(intent).toMatchObject({
      status: 'succeeded',
      payment_method: paymentMethod,
      setup_future_usage: 'off_session',
      customer,
    });
    const charge = intent.latest_charge as Stripe.Charge;
    expect(charge).toMatchObject({ object: 'charge', status: 'succeeded', payment_method: paymentMethod });
    expect(charge.payment_method_details?.card).toMatchObject({ brand: 'visa', last4: '4242' });

    const expanded = await stripe.checkout.sessions.retrieve(session.id, {
      expand: ['payment_intent.payment_method'],
    });
    const card = (expanded.payment_intent as Stripe.PaymentIntent).payment_method as Stripe.PaymentMethod;
    expect(card).toMatchObject({ id: paymentMethod, card: { brand: 'visa', last4: '4242' } });
  });

  it('checkout without setup_future_usage does not attach the card', async () => {
    const customer = await stripe.customers.create({ email: 'a@acme.test' });
    const session = await stripe.checkout.sessions.create(sessionParams({ customer: customer.id }));
    const paid = await control(emulator, 'POST', `/sessions/${session.id}/pay`, {});
    expect(paid.body.payment_intent.setup_future_usage).toBeNull();
    expect((await stripe.paymentMethods.retrieve(paid.body.payment_intent.payment_method)).customer).toBeNull();
  });

  it('sets the default payment method with customers.update, and refuses a card the customer does not have', async () => {
    const { customer, paymentMethod } = await savedCard();
    const updated = await stripe.customers.update(customer, {
      invoice_settings: { default_payment_method: paymentMethod },
    });
    expect(updated.invoice_settings.default_payment_method).toBe(paymentMethod);
    const fetched = (await stripe.customers.retrieve(customer, {
      expand: ['invoice_settings.default_payment_method'],
    })) as Stripe.Customer;
    expect(fetched.invoice_settings.default_payment_method).toMatchObject({
      id: paymentMethod,
      object: 'payment_method',
    });

    const other = await savedCard();
    const err = await stripe.customers
      .update(customer, { invoice_settings: { default_payment_method: other.paymentMethod } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 400, param: 'invoice_settings[default_payment_method]' });
    const missing = await stripe.customers
      .update(customer, { invoice_settings: { default_payment_method: 'pm_nope' } })
      .catch((e: unknown) => e);
    expect(missing).toMatchObject({ statusCode: 400, code: 'resource_missing' });
    expect(
      ((await stripe.customers.retrieve(customer)) as Stripe.Customer).invoice_settings.default_payment_method,
    ).toBe(paymentMethod);
  });

  it('charges a saved visa off-session: succeeded, a charge with a receipt page, events delivered', async () => {
    const { customer, paymentMethod } = await savedCard();
    receiver.received.length = 0;
    const intent = await offSession(customer, paymentMethod);
    expect(intent).toMatchObject({
      object: 'payment_intent',
      status: 'succeeded',
      amount: 1000,
      amount_received: 1000,
      customer,
      payment_method: paymentMethod,
      metadata: { org_id: 'org_1', refill_id: 'r1' },
      last_payment_error: null,
    });
    const charge = (await stripe.paymentIntents.retrieve(intent.id, { expand: ['latest_charge'] }))
      .latest_charge as Stripe.Charge;
    expect(charge).toMatchObject({ status: 'succeeded', paid: true, payment_intent: intent.id, amount: 1000 });
    expect(charge.metadata).toEqual({ org_id: 'org_1', refill_id: 'r1' });
    expect(charge.receipt_url).toBe(`${emulator.publicUrl}/receipts/${charge.id}`);
    const receipt = await fetch(charge.receipt_url!);
    expect(receipt.status).toBe(200);
    expect(await receipt.text()).toContain('$10.00');

    const events = await until("the emulator's deliveries", () => {
      const got = delivered().filter((e) => !e.type.startsWith('checkout.'));
      return got.length >= 3 && got;
    });
    // Deliveries run concurrently: their arrival order is not the order of creation.
    expect(events.map((e) => e.type).sort()).toEqual([
      'charge.succeeded',
      'payment_intent.created',
      'payment_intent.succeeded',
    ]);
    const succeeded = events.find((e) => e.type === 'payment_intent.succeeded')!;
    expect(succeeded.data.object).toMatchObject({ id: intent.id, status: 'succeeded', latest_charge: charge.id });
  });
  it.each([
    ['pm_card_chargeDeclined', 'card_declined', 'generic_decline'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
    ['pm_card_authenticationRequired', 'authentication_required', 'authentication_required'],
  ])('declines %s off-session: 402 StripeCardError %s / %s', async (card, code, declineCode) => {
    const customer = await stripe.customers.create({ email: 'a@acme.test' });
    const err = await offSession(customer.id, card).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    const cardError = err as Stripe.errors.StripeCardError;
    expect(cardError).toMatchObject({ statusCode: 402, type: 'StripeCardError', code, decline_code: declineCode });
    const intent = cardError.payment_intent!;
    expect(intent).toMatchObject({
      object: 'payment_intent',
      status: 'requires_payment_method',
      customer: customer.id,
    });
    expect(intent.last_payment_error).toMatchObject({ type: 'card_error', code, decline_code: declineCode });
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_payment_method');

    const failed = await until("the emulator's deliveries", () =>
      delivered().find((e) => e.type === 'payment_intent.payment_failed'),
    );
    expect(failed.data.object).toMatchObject({ id: intent.id, last_payment_error: { code } });
  });

  it('saves pm_card_chargeCustomerFail at checkout, then declines every off-session charge', async () => {
    const { customer, paymentMethod } = await savedCard('pm_card_chargeCustomerFail');
    expect((await stripe.paymentMethods.retrieve(paymentMethod)).customer).toBe(customer);
    for (const key of ['auto_refill:1', 'auto_refill:2']) {
      const err = (await offSession(customer, paymentMethod, key).catch(
        (e: unknown) => e,
      )) as Stripe.errors.StripeCardError;
      expect(err).toMatchObject({ statusCode: 402, code: 'card_declined', decline_code: 'generic_decline' });
      expect(err.payment_intent?.status).toBe('requires_payment_method');
    }
  });

  it('replays a PaymentIntent for the same idempotency key, a decline included, and creates one', async () => {
    const { customer, paymentMethod } = await savedCard();
    const first = await offSession(customer, paymentMethod, 'auto_refill:r1');
    const again = await offSession(customer, paymentMethod, 'auto_refill:r1');
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');

    const declined = await stripe.customers.create({});
    const e1 = (await offSession(declined.id, 'pm_card_chargeDeclined', 'auto_refill:r2').catch(
      (e: unknown) => e,
    )) as Stripe.errors.StripeCardError;
    const e2 = (await offSession(declined.id, 'pm_card_chargeDeclined', 'auto_refill:r2').catch(
      (e: unknown) => e,
    )) as Stripe.errors.StripeCardError;
    expect(e2.payment_intent?.id).toBe(e1.payment_intent?.id);
    expect((await stripe.paymentIntents.list({ customer: customer })).data).toHaveLength(2);
    expect((await stripe.paymentIntents.list({ customer: declined.id })).data).toHaveLength(1);
  });

  it('keeps pm_card_processing processing until a control settles it, then sends payment_intent.succeeded', async () => {
    const customer = await stripe.customers.create({});
    const intent = await offSession(customer.id, 'pm_card_processing');
    expect(intent.status).toBe('processing');
    expect(intent.amount_received).toBe(0);
    const pending = await stripe.paymentIntents.retrieve(intent.id, { expand: ['latest_charge'] });
    expect((pending.latest_charge as Stripe.Charge).status).toBe('pending');

    const settled = await control(emulator, 'POST', `/payment_intents/${intent.id}/succeed`, {});
    expect(settled.status).toBe(200);
    expect(settled.body.payment_intent.status).toBe('succeeded');
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('succeeded');
    await until("the emulator's deliveries", () => delivered().find((e) => e.type === 'payment_intent.succeeded'));

    const again = await control(emulator, 'POST', `/payment_intents/${intent.id}/succeed`, {});
    expect(again.status).toBe(400);
  });

  it('answers an injected fault on /v1/payment_intents without creating anything', async () => {
    const customer = await stripe.customers.create({});
    await control(emulator, 'POST', '/faults', { path: '/v1/payment_intents', method: 'POST', status: 402, times: 1 });
    const err = await offSession(customer.id, 'pm_card_visa').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect((await stripe.paymentIntents.list({ customer: customer.id })).data).toEqual([]);
    expect((await offSession(customer.id, 'pm_card_visa')).status).toBe('succeeded');
  });

  it('refuses a saved card for another customer', async () => {
    const { paymentMethod } = await savedCard();
    const stranger = await stripe.customers.create({});
    const err = await offSession(stranger.id, paymentMethod).catch((e: unknown) => e);
    expect(err).toMatchObject({ statusCode: 400, param: 'payment_method' });
  });

  it('asks for authentication on-session (requires_action)', async () => {
    const customer = await stripe.customers.create({});
    const intent = await stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      customer: customer.id,
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    expect(intent.status).toBe('requires_action');
    expect(intent.next_action?.type).toBe('use_stripe_sdk');
  });

  describe('hosted pay page', () => {
    it('shows a declined test card on the page and keeps the session open; visa then pays', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const declined = await fetch(`${emulator.url}/pay/${session.id}/pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'payment_method=pm_card_chargeDeclinedInsufficientFunds',
        redirect: 'manual',
      });
      expect(declined.status).toBe(402);
      expect(await declined.text()).toContain('Your card has insufficient funds.');
      expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');

      const paid = await fetch(`${emulator.url}/pay/${session.id}/pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'payment_method=pm_card_visa',
        redirect: 'manual',
      });
      expect(paid.status).toBe(303);
      const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent.latest_charge'] });
      expect(done).toMatchObject({ status: 'complete', payment_status: 'paid' });
      const charge = (done.payment_intent as Stripe.PaymentIntent).latest_charge as Stripe.Charge;
      expect((await fetch(charge.receipt_url!)).status).toBe(200);
    });

    it('pays through the control with a chosen card; a decline is a 402 and the session stays open', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const declined = await control(emulator, 'POST', `/sessions/${session.id}/pay`, {
        payment_method: 'pm_card_chargeDeclined',
      });
      expect(declined).toEqual({
        status: 402,
        body: { error: { message: 'Your card was declined.', code: 'card_declined', decline_code: 'generic_decline' } },
      });
      const unknown = await control(emulator, 'POST', `/sessions/${session.id}/pay`, { payment_method: 'pm_nope' });
      expect(unknown.status).toBe(400);
      const paid = await control(emulator, 'POST', `/sessions/${session.id}/pay`, {
        payment_method: 'pm_card_authenticationRequired',
      });
      expect(paid.body.session.payment_status).toBe('paid');
      expect(paid.body.charge.payment_method_details.card.last4).toBe('3184');
    });
  });
});
