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
