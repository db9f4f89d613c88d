import { sql, type SQL } from 'drizzle-orm';

/**
 * A list of ids or numbers as one array parameter (`= any(…)`, `unnest(…)`), written as
 * PostgreSQL's array literal so both drivers send it alike. Unlike a JSON list taken apart in
 * SQL (`jsonb_to_recordset`, estimated at 100 rows whatever it holds), the planner sees the
 * array's actual length, so a statement about a few orgs reads their rows through an index
 * rather than scanning every org's.
 */
export function uuidArray(ids: readonly string[]): SQL {
  return sql`${`{${ids.join(',')}}`}::uuid[]`;
}

export function bigintArray(values: readonly number[]): SQL {
  return sql`${`{${values.join(',')}}`}::bigint[]`;
}

/** Each element quoted (a key may hold a comma, a quote or a brace), so any text survives. */
export function textArray(values: readonly string[]): SQL {
  const quoted = values.map((value) => `"${value.replace(/["\\]/g, '\\$&')}"`);
  return sql`${`{${quoted.join(',')}}`}::text[]`;
}
