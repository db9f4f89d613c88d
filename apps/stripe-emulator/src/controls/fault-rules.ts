import { StripeHttpError, type StripeErrorBody } from '../stripe-api/stripe-errors';

/** A rule set with `POST /_emulator/faults` (see README). */
export interface FaultRule {
  id: number;
  path: string;
  method: string | null;
  status: number | null;
  delay_ms: number;
  /** Remaining matches; null = until cleared. */
  times: number | null;
  drop: boolean;
  /** Run the request, then destroy the socket instead of answering (a lost response). */
  drop_after_processing: boolean;
  /**
   * Apply `delay_ms` while holding the request's idempotency key (as a slow
   * request being processed), instead of before the request is looked at.
   */
  hold_lock: boolean;
  body: { error: StripeErrorBody } | null;
  matched: number;
}

export interface FaultInput {
  path?: unknown;
  method?: unknown;
  status?: unknown;
  delay_ms?: unknown;
  times?: unknown;
  drop?: unknown;
  drop_after_processing?: unknown;
  hold_lock?: unknown;
  body?: unknown;
}

export class FaultInputError extends Error {}

function int(value: unknown, name: string, min: number, max: number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new FaultInputError(`${name} must be an integer between ${min} and ${max}`);
  }
  return value;
}

export class Faults {
  private rules: FaultRule[] = [];
  private nextId = 1;

  add(input: FaultInput): FaultRule {
    if (typeof input.path !== 'string' || !input.path.startsWith('/')) {
      throw new FaultInputError('path is required and must start with "/"');
    }
    if (input.path.startsWith('/_emulator')) throw new FaultInputError('faults cannot target /_emulator');
    if (input.method !== undefined && typeof input.method !== 'string') {
      throw new FaultInputError('method must be a string');
    }
    const status = int(input.status, 'status', 400, 599);
    const delay = int(input.delay_ms, 'delay_ms', 0, 600_000) ?? 0;
    const times = int(input.times, 'times', 0, 1_000_000);
    const drop = input.drop === true;
    const dropAfter = input.drop_after_processing === true;
    if (status === null && delay === 0 && !drop && !dropAfter) {
      throw new FaultInputError('a fault needs at least one of status, delay_ms, drop, drop_after_processing');
    }
    let body: FaultRule['body'] = null;
    if (input.body !== undefined && input.body !== null) {
      if (typeof input.body !== 'object' || Array.isArray(input.body)) {
        throw new FaultInputError('body must be a Stripe error object');
      }
      const raw = input.body as Record<string, unknown>;
      const inner = (raw.error && typeof raw.error === 'object' ? raw.error : raw) as StripeErrorBody;
      body = { error: { ...inner, type: inner.type ?? 'api_error', message: inner.message ?? 'Injected fault.' } };
    }
    const rule: FaultRule = {
      id: this.nextId++,
      path: input.path,
      method: typeof input.method === 'string' ? input.method.toUpperCase() : null,
      status,
      delay_ms: delay,
      times: times === 0 ? null : times,
      drop,
      drop_after_processing: dropAfter,
      hold_lock: input.hold_lock === true,
      body,
      matched: 0,
    };
    this.rules.push(rule);
    return rule;
  }

  /** The first rule matching the request, consuming one of its `times`. */
  take(method: string, path: string): FaultRule | null {
    if (this.rules.length === 0) return null;
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i];
      if (rule.method && rule.method !== method) continue;
      if (!path.startsWith(rule.path)) continue;
      rule.matched++;
      if (rule.times !== null) {
        rule.times--;
        if (rule.times <= 0) this.rules.splice(i, 1);
      }
      return rule;
    }
    return null;
  }

  list(): FaultRule[] {
    return [...this.rules];
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
  }

  static error(rule: FaultRule): StripeHttpError {
    if (rule.status === null) throw new Error('rule has no status');
    if (rule.body) return new StripeHttpError(rule.status, rule.body.error);
    return faultError(rule.status);
  }
}

/** The error an injected fault answers with, by status: what Stripe sends for each (see README). */
const FAULT_ERRORS: Record<number, StripeErrorBody> = {
  400: {
    type: 'invalid_request_error',
    message: 'Invalid request (fault injected by the Stripe emulator).',
    code: 'parameter_invalid',
    param: 'emulator_fault',
  },
  401: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****************************' },
  402: {
    type: 'card_error',
    code: 'card_declined',
    decline_code: 'generic_decline',
    message: 'Your card was declined.',
  },
  403: {
    type: 'invalid_request_error',
    message: 'The provided key does not have the required permissions for this endpoint.',
  },
  404: {
    type: 'invalid_request_error',
    code: 'resource_missing',
    message: 'No such object (fault injected by the Stripe emulator).',
  },
  409: {
    type: 'invalid_request_error',
    code: 'lock_timeout',
    message:
      'This object cannot be accessed right now because another API request or Stripe process is currently accessing it.',
  },
  429: {
    type: 'invalid_request_error',
    code: 'rate_limit',
    message:
      'Request rate limit exceeded. You can learn more about rate limits at https://stripe.com/docs/rate-limits.',
  },
};

function faultError(status: number): StripeHttpError {
  const known = FAULT_ERRORS[status];
  if (known) return new StripeHttpError(status, { ...known });
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
