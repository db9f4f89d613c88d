/**
 * The one catalog of error types (the error table in docs/api.md). Every non-2xx answer carries exactly one
 * of these `type`s, and its status is fixed by the type.
 */
export const ERROR_CATALOG = {
  invalid_request_error: { status: 400, detail: 'Invalid request' },
  invalid_signature_error: { status: 400, detail: 'Invalid webhook signature' },
  authentication_error: { status: 401, detail: 'Authentication failed' },
  expired_token_error: { status: 401, detail: 'Credentials have expired' },
  insufficient_credits_error: { status: 402, detail: 'Insufficient credits' },
  forbidden_error: { status: 403, detail: 'Access forbidden' },
  not_found_error: { status: 404, detail: 'Not found' },
  request_timeout_error: { status: 408, detail: 'The request was not received in time' },
  conflict_error: { status: 409, detail: 'Conflict' },
  already_exists_error: { status: 409, detail: 'Already exists' },
  payload_too_large_error: { status: 413, detail: 'Request body is too large' },
  uri_too_long_error: { status: 414, detail: 'Request URI is too long' },
  unsupported_media_type_error: { status: 415, detail: 'Request body must be JSON (Content-Type: application/json)' },
  validation_error: { status: 422, detail: 'Request validation failed' },
  upgrade_required_error: { status: 426, detail: 'Client upgrade required' },
  rate_limit_error: { status: 429, detail: 'Too many requests' },
  headers_too_large_error: { status: 431, detail: 'Request headers are too large' },
  internal_error: { status: 500, detail: 'Internal server error' },
  configuration_error: { status: 500, detail: 'The service is misconfigured' },
  payment_provider_error: { status: 502, detail: 'The payment provider failed to answer' },
  service_unavailable_error: { status: 503, detail: 'Service unavailable' },
  gateway_timeout_error: { status: 504, detail: 'The payment provider did not answer in time' },
} as const satisfies Record<string, { status: number; detail: string }>;

export type ErrorType = keyof typeof ERROR_CATALOG;

/** The type used when only a status is known (framework errors, unexpected statuses). */
export function errorTypeForStatus(status: number): ErrorType {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'insufficient_credits_error';
    case 403:
      return 'forbidden_error';
    case 404:
      return 'not_found_error';
    case 408:
      return 'request_timeout_error';
    case 409:
      return 'conflict_error';
    case 413:
      return 'payload_too_large_error';
    case 414:
      return 'uri_too_long_error';
    case 415:
      return 'unsupported_media_type_error';
    case 422:
      return 'validation_error';
    case 426:
      return 'upgrade_required_error';
    case 429:
      return 'rate_limit_error';
    case 431:
      return 'headers_too_large_error';
    case 502:
      return 'payment_provider_error';
    case 503:
      return 'service_unavailable_error';
    case 504:
      return 'gateway_timeout_error';
    default:
      return status >= 400 && status < 500 ? 'invalid_request_error' : 'internal_error';
  }
}
