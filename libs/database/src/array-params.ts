import { sql, type SQL } from 'drizzle-orm';

/**
 * A list of ids, numbers or text as one array parameter (`= any(…)`, `unnest(…)`), written as
 * PostgreSQL's array literal so both drivers send it alike. Unlike a JSON list taken apart in
 * SQL (`jsonb_to_recordset`, estimated at 100 rows whatever it holds), the planner sees the
 * array's actual length, so a statement about a few orgs reads their rows through an index
 * rather than scanning every org's.
 */
export function uuidArray(ids: readonly string[]): SQL {
  return sql`${arrayLiteral(ids)}::uuid[]`;
}

export function bigintArray(values: readonly number[]): SQL {
  for (const value of values) {
    // Past 2^53 a number is no longer the integer it reads as (and 1e21 prints as "1e+21").
    if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  }
  return sql`${arrayLiteral(values.map(String))}::bigint[]`;
}

export function textArray(values: readonly string[]): SQL {
  return sql`${arrayLiteral(values)}::text[]`;
}

/**
 * Every element quoted, so each is exactly one element whatever it holds: a comma, a quote, a
 * brace, `NULL` or nothing at all (an empty id then fails its cast instead of vanishing).
 */
function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}
