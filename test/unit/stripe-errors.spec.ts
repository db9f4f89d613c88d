import Stripe from 'stripe';
import { ApiException } from '@credits/errors';
import { mapStripeError } from '@credits/stripe';
import { RequestDeadline, runWithDeadline } from '@credits/traffic';
import { callStripe } from '../../libs/stripe/src/stripe-call';

const raw = (extra: Record<string, unknown>) => ({ message: 'boom', type: 'api_error', ...extra }) as any;

describe('mapStripeError: one mapping from Stripe failures to the envelope', () => {
  it.each([
    [
      'a parameter the caller chose',
      new Stripe.errors.StripeInvalidRequestError(raw({ param: 'success_url', statusCode: 400 })),
      400,
      'invalid_request_error',
    ],
    [
      'a parameter we built (our bug)',
      new Stripe.errors.StripeInvalidRequestError(raw({ param: 'mode', statusCode: 400 })),
      502,
      'payment_provider_error',
    ],
    [
      'our price id missing',
      new Stripe.errors.StripeInvalidRequestError(
        raw({ param: 'line_items[0][price]', statusCode: 404, code: 'resource_missing' }),
      ),
      500,
      'configuration_error',
    ],
    [
      'an idempotency mismatch',
      new Stripe.errors.StripeIdempotencyError(raw({ statusCode: 400 })),
      409,
      'conflict_error',
    ],
    [
      'our key rejected',
      new Stripe.errors.StripeAuthenticationError(raw({ statusCode: 401 })),
      500,
      'configuration_error',
    ],
    [
      'our key lacks a permission',
      new Stripe.errors.StripePermissionError(raw({ statusCode: 403 })),
      500,
      'configuration_error',
    ],
    [
      'Stripe throttling us',
      new Stripe.errors.StripeRateLimitError(raw({ statusCode: 429 })),
      502,
      'payment_provider_error',
    ],
    ['a Stripe 500', new Stripe.errors.StripeAPIError(raw({ statusCode: 500 })), 502, 'payment_provider_error'],
    [
      'no connection',
      new Stripe.errors.StripeConnectionError(raw({ message: 'An error occurred with our connection to Stripe.' })),
      502,
      'payment_provider_error',
    ],
    [
      'a timeout',
      new Stripe.errors.StripeConnectionError(raw({ message: 'Request aborted due to timeout being reached (200ms)' })),
      504,
      'gateway_timeout_error',
    ],
    ['something unknown', new Error('socket hang up'), 502, 'payment_provider_error'],
  ])('%s -> %s %s', (_name, error, status, type) => {
    const mapped = mapStripeError(error);
    expect([mapped.getStatus(), mapped.type]).toEqual([status, type]);
  });

  it('never passes a key or an internal id to the caller', () => {
    const error = new Stripe.errors.StripeInvalidRequestError(
      raw({ param: 'success_url', message: 'Bad url for cus_ABC123 with sk_test_secret123' }),
    );
    expect(mapStripeError(error).detail).not.toMatch(/sk_test_secret123|cus_ABC123/);
  });

  it('bounds the whole call with a deadline -> 504', async () => {
    const started = Date.now();
    const error = await callStripe(50, () => new Promise(() => undefined)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiException);
    expect((error as ApiException).type).toBe('gateway_timeout_error');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("keeps the request blaming Stripe when the call is cut off by the request's deadline", async () => {
    // The HTTP layer decides between 504 (waiting on Stripe) and 503 after the Stripe call may
    // already have given up: both timers fall due at the same instant, in either order.
    const deadline = new RequestDeadline(50);
    const error = await runWithDeadline(deadline, () => callStripe(10_000, () => new Promise(() => undefined))).catch(
      (e: unknown) => e,
    );
    expect((error as ApiException).type).toBe('gateway_timeout_error');
    expect(deadline.waitingOnStripe).toBe(true);
  });

  it('does not call Stripe at all when the request has no time left, and answers as the HTTP layer would (503)', async () => {
    const deadline = new RequestDeadline(0);
    let called = false;
    const error = await runWithDeadline(deadline, () =>
      callStripe(10_000, async () => {
        called = true;
      }),
    ).catch((e: unknown) => e);
    expect(called).toBe(false);
    expect((error as ApiException).type).toBe('service_unavailable_error');
    expect(deadline.waitingOnStripe).toBe(false);
  });

  it('takes no stack trace while the SDK sends, and leaves the process its own, also when the call throws', async () => {
    const limit = Error.stackTraceLimit;
    let stackWhileSending: string | undefined;
    await callStripe(1000, async () => {
      stackWhileSending = new Error('sending').stack;
    });
    expect(stackWhileSending).toBe('Error: sending');
    expect(Error.stackTraceLimit).toBe(limit);

    // A call that throws before it sends (a parameter the SDK refuses) is a Stripe failure too.
    const error = await callStripe(1000, () => {
      throw new Error('refused before sending');
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiException);
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error('after').stack).toContain('\n    at ');
  });

  it('does not blame Stripe for a later stall when its own, shorter deadline ended the call', async () => {
    const deadline = new RequestDeadline(10_000);
    const error = await runWithDeadline(deadline, () => callStripe(30, () => new Promise(() => undefined))).catch(
      (e: unknown) => e,
    );
    expect((error as ApiException).type).toBe('gateway_timeout_error');
    expect(deadline.waitingOnStripe).toBe(false);
  });
});
