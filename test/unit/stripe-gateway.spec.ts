import Stripe from 'stripe';
import type { AppConfig } from '@credits/config';
import { ApiException } from '@credits/errors';
import { StripeGateway } from '@credits/stripe';
import { RequestDeadline, runWithDeadline } from '@credits/traffic';

const raw = (extra: Record<string, unknown>) => ({ message: 'boom', type: 'invalid_request_error', ...extra }) as any;
const never = () => new Promise<never>(() => undefined);

/** The SDK's surface the gateway uses, each method a Jest mock; webhooks are the SDK's own. */
function fakeStripe() {
  const real = new Stripe('sk_test_signing_only');
  return {
    customers: { create: jest.fn() },
    checkout: { sessions: { create: jest.fn(), retrieve: jest.fn(), list: jest.fn() } },
    webhooks: real.webhooks,
  };
}

/** Every SDK method the gateway calls over the network. */
const networkMethods = (stripe: ReturnType<typeof fakeStripe>) => [
  stripe.customers.create,
  stripe.checkout.sessions.create,
  stripe.checkout.sessions.retrieve,
  stripe.checkout.sessions.list,
];

function gatewayOver(stripe: ReturnType<typeof fakeStripe>, callDeadlineMs = 10_000): StripeGateway {
  return new StripeGateway(stripe as unknown as Stripe, { stripe: { callDeadlineMs } } as AppConfig);
}

const failure = (promise: Promise<unknown>) => promise.then(() => undefined).catch((error: unknown) => error);

describe('StripeGateway: every Stripe call, with its deadline, idempotency key and error mapping', () => {
  it('sends the idempotency key it is given, and none when there is none', async () => {
    const stripe = fakeStripe();
    stripe.checkout.sessions.create.mockResolvedValue({ id: 'cs_1' });
    stripe.customers.create.mockResolvedValue({ id: 'cus_1' });
    const gateway = gatewayOver(stripe);

    await gateway.createCheckoutSession({ mode: 'payment' }, 'key-1');
    await gateway.createCheckoutSession({ mode: 'payment' }, undefined);
    await gateway.createCustomer({ name: 'Acme' }, 'customer-key');

    expect(stripe.checkout.sessions.create.mock.calls).toEqual([
      [{ mode: 'payment' }, { idempotencyKey: 'key-1' }],
      [{ mode: 'payment' }, undefined],
    ]);
    expect(stripe.customers.create.mock.calls).toEqual([[{ name: 'Acme' }, { idempotencyKey: 'customer-key' }]]);
  });

  it.each([
    ['createCustomer', (g: StripeGateway) => g.createCustomer({}, 'k')],
    ['createCheckoutSession', (g: StripeGateway) => g.createCheckoutSession({ mode: 'payment' }, 'k')],
    ['retrieveCheckoutSession', (g: StripeGateway) => g.retrieveCheckoutSession('cs_1')],
    ['listCheckoutSessions', (g: StripeGateway) => g.listCheckoutSessions({ payment_intent: 'pi_1' })],
  ])('%s: bounded by the configured deadline (504), its failures mapped to the envelope', async (_name, call) => {
    const hanging = fakeStripe();
    for (const method of networkMethods(hanging)) method.mockImplementation(never);
    // Nothing else would end the call: the SDK's own attempts are not involved here.
    const timedOut = await failure(call(gatewayOver(hanging, 50)));
    expect((timedOut as ApiException).type).toBe('gateway_timeout_error');

    const rejecting = fakeStripe();
    for (const method of networkMethods(rejecting))
      method.mockRejectedValue(new Stripe.errors.StripeAuthenticationError(raw({ statusCode: 401 })));
    const rejected = await failure(call(gatewayOver(rejecting)));
    expect(rejected).toBeInstanceOf(ApiException);
    expect((rejected as ApiException).type).toBe('configuration_error');
  });

  it('retrieveCheckoutSession: null for a session Stripe does not know, other failures mapped', async () => {
    const stripe = fakeStripe();
    stripe.checkout.sessions.retrieve.mockRejectedValueOnce(
      new Stripe.errors.StripeInvalidRequestError(raw({ statusCode: 404, code: 'resource_missing' })),
    );
    const gateway = gatewayOver(stripe);
    await expect(gateway.retrieveCheckoutSession('cs_gone', { expand: ['line_items'] })).resolves.toBeNull();
    expect(stripe.checkout.sessions.retrieve).toHaveBeenCalledWith('cs_gone', { expand: ['line_items'] });

    stripe.checkout.sessions.retrieve.mockRejectedValueOnce(new Stripe.errors.StripeAPIError(raw({ statusCode: 500 })));
    const error = await failure(gateway.retrieveCheckoutSession('cs_1'));
    expect((error as ApiException).type).toBe('payment_provider_error');
  });

  it("joining another request's call counts as waiting on Stripe for this request's deadline", async () => {
    const gateway = gatewayOver(fakeStripe());
    const deadline = new RequestDeadline(10_000);
    let finish!: (id: string) => void;
    const shared = new Promise<string>((resolve) => (finish = resolve));
    const joined = runWithDeadline(deadline, () => gateway.join(shared));
    expect(deadline.waitingOnStripe).toBe(true);
    finish('cus_1');
    await expect(joined).resolves.toBe('cus_1');
    expect(deadline.waitingOnStripe).toBe(false);
  });

  describe('constructEvent', () => {
    const secret = 'whsec_test';
    const event = JSON.stringify({ id: 'evt_1', object: 'event', type: 'charge.refunded', data: { object: {} } });
    const sign = (payload: string, key = secret) =>
      new Stripe('sk_test_signing_only').webhooks.generateTestHeaderString({ payload, secret: key });

    it('answers a verified event', () => {
      expect(gatewayOver(fakeStripe()).constructEvent(Buffer.from(event), sign(event), secret)).toMatchObject({
        id: 'evt_1',
        type: 'charge.refunded',
      });
    });

    it.each([
      ['signed with another secret', event, sign(event, 'whsec_other'), 'invalid_signature_error'],
      ['signed, but not an event', '{"hello":"world"}', sign('{"hello":"world"}'), 'invalid_request_error'],
    ])('%s -> %s', (_name, payload, signature, type) => {
      const gateway = gatewayOver(fakeStripe());
      let thrown: unknown;
      try {
        gateway.constructEvent(Buffer.from(payload), signature, secret);
      } catch (error) {
        thrown = error;
      }
      expect((thrown as ApiException).type).toBe(type);
    });
  });
});
