import { HttpException } from '@nestjs/common';
import { ERROR_CATALOG, ErrorType } from './error-catalog';
import { FieldError } from './field-error';

/**
 * An error the API answers on purpose. The filter renders it as the envelope
 * `{code, detail, errors, type}`; `detail` must be safe to show to the caller.
 */
export class ApiException extends HttpException {
  readonly type: ErrorType;
  readonly detail: string;
  readonly errors: FieldError[] | null;
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  readonly headers: Record<string, string>;

  constructor(
    type: ErrorType,
    detail: string = ERROR_CATALOG[type].detail,
    options: { errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    // An answer the caller caused (4xx) is expected and frequent (every invalid body), and its
    // stack is never read: capturing one is most of what constructing the error costs.
    const stackTraceLimit = Error.stackTraceLimit;
    if (ERROR_CATALOG[type].status < 500) Error.stackTraceLimit = 0;
    try {
      super(detail, ERROR_CATALOG[type].status, { cause: options.cause });
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.type = type;
    this.detail = detail;
    this.errors = options.errors ?? null;
    this.headers = options.headers ?? {};
  }
}

const BEARER_CHALLENGE = { 'WWW-Authenticate': 'Bearer' };

export class InvalidRequestError extends ApiException {
  constructor(detail?: string, errors?: FieldError[]) {
    super('invalid_request_error', detail, { errors });
  }
}

export class InvalidSignatureError extends ApiException {
  constructor(detail?: string) {
    super('invalid_signature_error', detail);
  }
}

export class AuthenticationError extends ApiException {
  constructor(detail = 'Authentication failed') {
    super('authentication_error', detail, { headers: { ...BEARER_CHALLENGE } });
  }
}

/**
 * A credential this service issued and recognised, refused all the same (a revoked key, a
 * token whose user is gone). Answered as any 401; failed attempts with it are counted against
 * the credential, not against the address it came from (`AuthFailureLimiter`).
 */
export class RefusedCredentialError extends AuthenticationError {}

export class ExpiredTokenError extends ApiException {
  constructor(detail = 'Credentials have expired') {
    super('expired_token_error', detail, {
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_token", error_description="expired"' },
    });
  }
}

export class InsufficientCreditsError extends ApiException {
  constructor(detail?: string) {
    super('insufficient_credits_error', detail);
  }
}

export class ForbiddenError extends ApiException {
  constructor(detail?: string) {
    super('forbidden_error', detail);
  }
}

export class NotFoundError extends ApiException {
  constructor(detail?: string) {
    super('not_found_error', detail);
  }
}

export class ConflictError extends ApiException {
  constructor(detail?: string) {
    super('conflict_error', detail);
  }
}

export class AlreadyExistsError extends ApiException {
  constructor(detail?: string) {
    super('already_exists_error', detail);
  }
}

export class PayloadTooLargeError extends ApiException {
  constructor(detail?: string) {
    super('payload_too_large_error', detail);
  }
}

export class UriTooLongError extends ApiException {
  constructor(detail?: string) {
    super('uri_too_long_error', detail);
  }
}

export class UnsupportedMediaTypeError extends ApiException {
  constructor(detail?: string) {
    super('unsupported_media_type_error', detail);
  }
}

export class ValidationError extends ApiException {
  constructor(errors: FieldError[], detail?: string) {
    super('validation_error', detail, { errors });
  }
}

export class UpgradeRequiredError extends ApiException {
  constructor(detail?: string) {
    super('upgrade_required_error', detail);
  }
}

export class RateLimitError extends ApiException {
  constructor(retryAfterSeconds: number, headers: Record<string, string> = {}) {
    super('rate_limit_error', `Too many requests; retry after ${retryAfterSeconds} s`, {
      headers: { ...headers, 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

export class InternalError extends ApiException {
  constructor(cause?: unknown) {
    super('internal_error', undefined, { cause });
  }
}

export class ConfigurationError extends ApiException {
  constructor(cause?: unknown) {
    super('configuration_error', undefined, { cause });
  }
}

export class PaymentProviderError extends ApiException {
  constructor(detail?: string, cause?: unknown) {
    super('payment_provider_error', detail, { cause });
  }
}

export class ServiceUnavailableError extends ApiException {
  constructor(detail?: string, headers?: Record<string, string>) {
    super('service_unavailable_error', detail, { headers });
  }
}

export class GatewayTimeoutError extends ApiException {
  constructor(detail?: string, cause?: unknown) {
    super('gateway_timeout_error', detail, { cause });
  }
}
