/** Stripe's error envelope: `{"error":{"type","code"?,"message","param"?}}`. */
export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  param?: string;
  decline_code?: string;
  doc_url?: string;
}

export class StripeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }

  toJSON(): { error: StripeErrorBody } {
    return { error: this.body };
  }
}

export function invalidRequest(message: string, param?: string, code?: string): StripeHttpError {
  const body: StripeErrorBody = { type: 'invalid_request_error', message };
  if (code) body.code = code;
  if (param) body.param = param;
  return new StripeHttpError(400, body);
}

export function missingParam(param: string): StripeHttpError {
  return invalidRequest(`Missing required param: ${param}.`, param, 'parameter_missing');
}

export function invalidParam(param: string, message: string, code = 'parameter_invalid'): StripeHttpError {
  return invalidRequest(message, param, code);
}

/** `No such customer: 'cus_x'` — 404 when the object is the one addressed, 400 when it is a parameter. */
export function noSuch(kind: string, id: string, param?: string): StripeHttpError {
  const body: StripeErrorBody = {
    type: 'invalid_request_error',
    code: 'resource_missing',
    message: `No such ${kind}: '${id}'`,
  };
  if (param) body.param = param;
  return new StripeHttpError(param ? 400 : 404, body);
}

export function unknownRoute(method: string, path: string): StripeHttpError {
  return new StripeHttpError(404, {
    type: 'invalid_request_error',
    message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  });
}

/** Masks a secret for messages and logs: a short prefix, the rest starred. Never the whole key. */
export function maskKey(key: string, visible = 8): string {
  const shown = Math.min(visible, Math.floor(key.length / 2));
  return `${key.slice(0, shown)}${'*'.repeat(Math.max(4, Math.min(key.length - shown, 24)))}`;
}

/** The body an injected fault answers with, by status (see README). */
export function faultError(status: number): StripeHttpError {
  if (status === 400) {
    return invalidRequest(
      'Invalid request (fault injected by the Stripe emulator).',
      'emulator_fault',
      'parameter_invalid',
    );
  }
  if (status === 401) {
    return new StripeHttpError(401, {
      type: 'invalid_request_error',
      message: 'Invalid API Key provided: sk_test_****************************',
    });
  }
  if (status === 402) {
    return new StripeHttpError(402, {
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'generic_decline',
      message: 'Your card was declined.',
    });
  }
  if (status === 403) {
    return new StripeHttpError(403, {
      type: 'invalid_request_error',
      message: 'The provided key does not have the required permissions for this endpoint.',
    });
  }
  if (status === 404) {
    return new StripeHttpError(404, {
      type: 'invalid_request_error',
      code: 'resource_missing',
      message: 'No such object (fault injected by the Stripe emulator).',
    });
  }
  if (status === 409) {
    return new StripeHttpError(409, {
      type: 'invalid_request_error',
      code: 'lock_timeout',
      message:
        'This object cannot be accessed right now because another API request or Stripe process is currently accessing it.',
    });
  }
  if (status === 429) {
    return new StripeHttpError(429, {
      type: 'invalid_request_error',
      code: 'rate_limit',
      message:
        'Request rate limit exceeded. You can learn more about rate limits at https://stripe.com/docs/rate-limits.',
    });
  }
  if (status >= 500) {
    return new StripeHttpError(status, {
      type: 'api_error',
      message: 'Sorry, something went wrong (fault injected by the Stripe emulator).',
    });
  }
  return new StripeHttpError(status, {
    type: 'invalid_request_error',
    message: `Injected fault with status ${status}.`,
  });
}
