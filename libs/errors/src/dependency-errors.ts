/** Network failures: the peer is down, unreachable or went away mid-request. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs that say "the database cannot serve now", not "this request is
 * wrong": connection exceptions (08…), too many connections, shutting down or starting
 * up (57P01–57P03), and a statement cancelled by `statement_timeout` (57014).
 */
const UNAVAILABLE_SQLSTATE = /^(08\w{3}|53300|57P0[123]|57014)$/;

/** node-postgres's own words for a connection it lost or could not get. */
const PG_CLIENT_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused/i;

/**
 * Whether a failure comes from a dependency being unavailable (the database down,
 * unreachable or overloaded) rather than from a bug: answered 503 so callers and Stripe
 * retry, where a bug is a 500. Looks through `cause` chains (Drizzle wraps driver errors).
 */
export function isDependencyUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
    if (PG_CLIENT_MESSAGES.test(current.message)) return true;
    if (current instanceof AggregateError && current.errors.some((inner) => isDependencyUnavailable(inner)))
      return true;
  }
  return false;
}
