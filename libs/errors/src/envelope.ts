import { HttpException } from '@nestjs/common';
import { ApiException } from './api-exception';
import { isDependencyUnavailable } from './dependency-errors';
import { ERROR_CATALOG, ErrorType, errorTypeForStatus } from './error-catalog';
import { FieldError } from './field-error';

/** The body of every non-2xx answer, and nothing else. */
export interface ErrorEnvelope {
  code: number;
  detail: string;
  errors: FieldError[] | null;
  type: ErrorType;
}

export interface RenderedError {
  status: number;
  body: ErrorEnvelope;
  headers: Record<string, string>;
  /** Whether the failure is ours (log it with its cause) or the caller's. */
  serverFault: boolean;
}

function envelope(type: ErrorType, detail: string, errors: FieldError[] | null = null): ErrorEnvelope {
  return { code: ERROR_CATALOG[type].status, detail, errors, type };
}

function render(type: ErrorType, detail?: string, errors: FieldError[] | null = null, headers = {}): RenderedError {
  const status = ERROR_CATALOG[type].status;
  return {
    status,
    body: envelope(type, detail ?? ERROR_CATALOG[type].detail, errors),
    headers,
    serverFault: status >= 500,
  };
}

/**
 * Turns anything thrown anywhere (our exceptions, Nest's, Fastify's, bugs) into the envelope.
 * Only `ApiException` details reach the caller verbatim: they are written to be shown.
 */
export function renderError(error: unknown): RenderedError {
  if (error instanceof ApiException) {
    return { ...render(error.type, error.detail, error.errors), headers: error.headers };
  }
  // Nest's built-in exceptions (router 404, throttler 429, …) and Fastify's request errors
  // (413 body limit, 415 content type; Nest wraps those that reach its error handler, the
  // router's own arrive bare): the status is meaningful, the message is framework wording,
  // so the catalog's detail is used instead.
  const status = frameworkStatusOf(error);
  if (status !== undefined && status >= 400 && status < 500) return render(errorTypeForStatus(status));
  if (isDependencyUnavailable(error)) {
    return render('service_unavailable_error', 'The service is temporarily unavailable; retry shortly', null, {
      'Retry-After': '1',
    });
  }
  return render('internal_error');
}

function frameworkStatusOf(error: unknown): number | undefined {
  if (error instanceof HttpException) return error.getStatus();
  if (error instanceof Error && error.name === 'FastifyError') {
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number') return status;
  }
  return undefined;
}
