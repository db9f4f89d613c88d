import { Logger } from '@nestjs/common';
import Stripe from 'stripe';
import {
  ApiException,
  ConfigurationError,
  ConflictError,
  GatewayTimeoutError,
  InvalidRequestError,
  PaymentProviderError,
} from '@credits/errors';

const logger = new Logger('Stripe');

/** Stripe's own message, without anything that could be a credential or an internal id. */
function safeMessage(message: string | undefined): string {
  return (message ?? 'Stripe rejected the request')
    .replace(/\b(sk|rk|pk)_(test|live)_\w+/g, '[key]')
    .replace(/\b(cus|pi|ch|price|prod)_\w+/g, '[id]')
    .slice(0, 300);
}

/** Where a parameter we send to Stripe came from in the caller's request. */
const USER_PARAMS: Record<string, string[]> = {
  success_url: ['body', 'success_url'],
  cancel_url: ['body', 'cancel_url'],
  'line_items[0][quantity]': ['body', 'quantity'],
};

/**
 * The one mapping from a Stripe failure to the envelope (the error table in docs/api.md):
 * a parameter Stripe rejects -> 400; an idempotency mismatch -> 409; our key or
 * permissions rejected -> 500 configuration_error; Stripe down, erroring, throttling us
 * or unreachable -> 502; no answer in time -> 504.
 */
export function mapStripeError(error: unknown, deadlineExceeded = false): ApiException {
  if (error instanceof ApiException) return error;
  if (deadlineExceeded) return new GatewayTimeoutError(undefined, error);
  if (!(error instanceof Stripe.errors.StripeError)) return new PaymentProviderError(undefined, error);

  const log = {
    type: error.type,
    code: error.code,
    status: error.statusCode,
    request_id: error.requestId,
    param: error.param,
  };
  if (error instanceof Stripe.errors.StripeIdempotencyError) {
    return new ConflictError(
      'A request with this Idempotency-Key was already sent to the payment provider with other parameters',
    );
  }
  if (
    error instanceof Stripe.errors.StripeAuthenticationError ||
    error instanceof Stripe.errors.StripePermissionError
  ) {
    logger.error({ msg: 'Stripe rejected our credentials: check STRIPE_SECRET_KEY and its permissions', ...log });
    return new ConfigurationError(error);
  }
  if (error instanceof Stripe.errors.StripeConnectionError) {
    const timedOut = /timeout/i.test(error.message);
    logger.warn({ msg: timedOut ? 'Stripe did not answer in time' : 'could not reach Stripe', ...log });
    return timedOut
      ? new GatewayTimeoutError(undefined, error)
      : new PaymentProviderError('Could not reach the payment provider', error);
  }
  if (error instanceof Stripe.errors.StripeInvalidRequestError || error instanceof Stripe.errors.StripeCardError) {
    const loc = error.param ? USER_PARAMS[error.param] : undefined;
    if (loc) {
      return new InvalidRequestError(`The payment provider rejected ${loc[1]}: ${safeMessage(error.message)}`, [
        { loc, msg: safeMessage(error.message), type: 'value_error' },
      ]);
    }
    // A parameter the caller did not choose: our configuration or our code is wrong.
    logger.error({ msg: 'Stripe rejected a request we built', ...log, message: safeMessage(error.message) });
    if (error.statusCode === 404 || error.code === 'resource_missing') return new ConfigurationError(error);
    return new PaymentProviderError(undefined, error);
  }
  if (error.statusCode === 409)
    return new ConflictError('The payment provider is still processing an identical request; retry shortly');
  logger.warn({ msg: 'Stripe answered with an error', ...log });
  return new PaymentProviderError(undefined, error);
}
