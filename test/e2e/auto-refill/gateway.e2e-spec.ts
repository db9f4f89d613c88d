import { GatewayTimeoutError, PaymentProviderError } from '@credits/errors';
import { StripeGateway } from '@credits/stripe';
import { Stack, startStack } from '../../support/stack';

/**
 * StripeGateway.createOffSessionPaymentIntent against the emulator: a card error of any code is
 * a `declined` answer; Stripe failing or silent is the envelope's 502 / 504, like every call;
 * a lost answer is retried under the same key and charges once.
 */
describe('StripeGateway: off-session payment intents', () => {
  let s: Stack;
  let gateway: StripeGateway;
  let customer: string;
  let n = 0;

  const charge = (paymentMethod = 'pm_card_visa') =>
    gateway.createOffSessionPaymentIntent(
      { amount: 1000, currency: 'usd', customer, payment_method: paymentMethod, metadata: { test: 'gateway' } },
      `auto_refill:test-${++n}`,
    );

  beforeAll(async () => {
    // The SDK sleeps at least 500 ms before its retry, inside the call's budget (timeout ×
    // attempts): with 300 ms a try, a Stripe that errors at once left 100 ms for both round
    // trips, and a loaded machine turned the 502 into a 504.
    s = await startStack({ env: { STRIPE_TIMEOUT_MS: '1000', STRIPE_MAX_NETWORK_RETRIES: '1' } });
    gateway = s.app.get(StripeGateway);
    customer = (await gateway.createCustomer({ name: 'Gateway test' }, 'gateway-test-customer')).id;
  });
  afterAll(() => s?.close());
  afterEach(() => s.control('DELETE', '/faults'));

  it('succeeded, with the receipt of its charge', async () => {
    const outcome = await charge();
    expect(outcome).toMatchObject({ status: 'succeeded', receiptUrl: expect.stringMatching(/^http/) });
  });

  it.each([
    ['pm_card_chargeDeclined', 'card_declined', 'generic_decline'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
    ['pm_card_authenticationRequired', 'authentication_required', 'authentication_required'],
  ])('%s is declined (%s / %s), not an exception', async (card, code, declineCode) => {
    expect(await charge(card)).toEqual({
      status: 'declined',
      paymentIntentId: expect.stringMatching(/^pi_/),
      code,
      declineCode,
      message: expect.any(String),
    });
  });

  it('Stripe erroring is 502 payment_provider_error', async () => {
    await s.control('POST', '/faults', { path: '/v1/payment_intents', method: 'POST', status: 500 });
    await expect(charge()).rejects.toBeInstanceOf(PaymentProviderError);
  });

  it('Stripe silent past the deadline is 504 gateway_timeout_error', async () => {
    await s.control('POST', '/faults', { path: '/v1/payment_intents', method: 'POST', delay_ms: 5000 });
    await expect(charge()).rejects.toBeInstanceOf(GatewayTimeoutError);
  });

  it('a lost answer is retried under the same key: one payment intent', async () => {
    await s.control('POST', '/faults', {
      path: '/v1/payment_intents',
      method: 'POST',
      drop_after_processing: true,
      times: 1,
    });
    const outcome = await charge();
    expect(outcome.status).toBe('succeeded');
    const sent = (await s.stripeRequests('/v1/payment_intents')).filter(
      (r) => r.headers['idempotency-key'] === `auto_refill:test-${n}`,
    );
    expect(sent).toHaveLength(2);
    const listed = await s.control(
      'GET',
      `/payment_intents/${(outcome as { paymentIntent: { id: string } }).paymentIntent.id}`,
    );
    expect(listed.payment_intent.status).toBe('succeeded');
  });
});
