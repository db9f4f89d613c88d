/**
 * PostgreSQL errors by SQLSTATE, from either driver (node-postgres and PGlite both set `code`),
 * looked for along `cause` too, since Drizzle wraps a driver's error in its own.
 */
export function hasSqlState(error: unknown, sqlState: string): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === sqlState) return true;
  }
  return false;
}

/** `unique_violation` (23505): a unique constraint refused a second row, e.g. a key used twice. */
export const isUniqueViolation = (error: unknown): boolean => hasSqlState(error, '23505');

/** `deadlock_detected` (40P01): PostgreSQL rolled the statement back; running it again may succeed. */
export const isDeadlock = (error: unknown): boolean => hasSqlState(error, '40P01');
