import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The server-side deadline of the request being served (`REQUEST_TIMEOUT_MS`). The HTTP
 * layer answers for the request when it passes; code that calls out (Stripe) bounds its
 * own wait by what is left, so that no call outlives the answer it was made for, and a debit
 * not yet decided when it passes is never applied. (A flag, not an `AbortController`: nothing
 * listens for the moment it passes, and every request would pay for one.)
 */
export class RequestDeadline {
  readonly expiresAt: number;
  private expiredByTimer = false;
  private stripeCalls = 0;
  private stripeOutranDeadline = false;

  constructor(timeoutMs: number, now = Date.now()) {
    this.expiresAt = now + timeoutMs;
  }

  get expired(): boolean {
    return this.expiredByTimer || Date.now() >= this.expiresAt;
  }

  remainingMs(): number {
    return Math.max(0, this.expiresAt - Date.now());
  }

  /**
   * True while a Stripe call is awaited, or once one was cut off by this deadline: passing the
   * deadline then is a 504, not a 503. The second half matters because the Stripe call's own
   * timer and the HTTP layer's deadline timer fall due together, in either order; when the
   * Stripe timer wins, the call is no longer in progress by the time the HTTP layer answers.
   */
  get waitingOnStripe(): boolean {
    return this.stripeCalls > 0 || this.stripeOutranDeadline;
  }

  /** Records that a Stripe call was abandoned because this deadline came. */
  stripeCallCutOff(): void {
    this.stripeOutranDeadline = true;
  }

  /** Marks a Stripe call as in progress until `done` settles. */
  async trackStripe<T>(done: Promise<T>): Promise<T> {
    this.stripeCalls++;
    try {
      return await done;
    } finally {
      this.stripeCalls--;
    }
  }

  /** Called by the HTTP layer's timer when it answers for the request. */
  expire(): void {
    this.expiredByTimer = true;
  }
}

/**
 * What the code serving a request can find without being handed it: its deadline, and
 * whatever the HTTP layer adds (the request itself, for log lines). One async context per
 * request: on Node 20 every further `AsyncLocalStorage` or `AsyncResource` costs each promise
 * the request creates.
 */
export interface RequestScope {
  readonly deadline: RequestDeadline;
}

const scopes = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` (and everything it starts) inside the request's scope. */
export function runInRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

/** The scope of the request being served; undefined outside a request (CLI, jobs). */
export function currentRequestScope(): RequestScope | undefined {
  return scopes.getStore();
}

export function runWithDeadline<T>(deadline: RequestDeadline, fn: () => T): T {
  return scopes.run({ deadline }, fn);
}

/** The deadline of the request being served; undefined outside a request (CLI, jobs). */
export function currentDeadline(): RequestDeadline | undefined {
  return scopes.getStore()?.deadline;
}
