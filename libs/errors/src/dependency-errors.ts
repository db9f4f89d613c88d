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
  // Read by shape, not `instanceof Error`: Node's socket errors can come from another realm
  // (a VM context such as Jest's), where they are errors that fail `instanceof`.
  let current: unknown = error;
  for (let depth = 0; typeof current === 'object' && current !== null && depth < 5; depth++) {
    const { code, message, errors, cause } = current as {
      code?: unknown;
      message?: unknown;
      errors?: unknown;
      cause?: unknown;
    };
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
    if (typeof message === 'string' && PG_CLIENT_MESSAGES.test(message)) return true;
    if (Array.isArray(errors) && errors.some((inner) => isDependencyUnavailable(inner))) return true;
    current = cause;
  }
  return false;
}
