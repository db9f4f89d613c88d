import { ServiceUnavailableError } from '@credits/errors';
import { currentDeadline } from '@credits/traffic';
import { mapStripeError } from './stripe-errors';

/**
 * Runs a Stripe call under a hard deadline: the SDK's own timeout applies per attempt,
 * this bounds the whole call including retries and their back-off, and never beyond the
 * request's own deadline (`REQUEST_TIMEOUT_MS`): the request is answered 504 then, and the
 * caller's code after this call (e.g. recording the session) never runs for an answer that
 * comes later. A call whose request has no time left is not made at all.
 */
export async function callStripe<T>(deadlineMs: number, call: () => Promise<T>): Promise<T> {
  const request = currentDeadline();
  const budgetMs = request ? Math.min(deadlineMs, request.remainingMs()) : deadlineMs;
  // Out of time before Stripe was even called: the same answer the HTTP layer gives for a
  // deadline passed while not waiting on Stripe, whichever of the two gets to answer.
  if (budgetMs <= 0)
    throw new ServiceUnavailableError('The request did not complete within its deadline; retry shortly', {
      'Retry-After': '1',
    });
  // When the request's deadline is the tighter bound, this timer and the HTTP layer's fall due together.
  const boundByRequest = request !== undefined && budgetMs < deadlineMs;
  let timer: NodeJS.Timeout | undefined;
  let deadlineExceeded = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      deadlineExceeded = true;
      if (boundByRequest) request.stripeCallCutOff();
      reject(new Error(`Stripe call exceeded its ${budgetMs} ms deadline`));
    }, budgetMs);
  });
  try {
    // Inside the try: a call that throws before it sends is mapped, and its timer cleared, too.
    const raced = Promise.race([withoutCallSite(call), deadline]);
    return await (request ? request.trackStripe(raced) : raced);
  } catch (error) {
    throw mapStripeError(error, deadlineExceeded);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `call()`, its synchronous part run with no stack traces taken. The Stripe SDK takes its
 * caller's stack (`new Error().stack`) on every request, to add it to an error that may come
 * much later; formatting it cost 27–31 µs a call alone here and ~55 µs under load (2.1% of the
 * API's busy time in a webhook profile, on every checkout too). What is lost: an SDK error
 * shows only the SDK's own frames, not which of our calls made it, and one the SDK raises
 * before sending (a parameter it refuses) has no stack. Either is turned into our own error
 * (`mapStripeError`, with its own stack) before any caller sees it.
 */
function withoutCallSite<T>(call: () => Promise<T>): Promise<T> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return call();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
