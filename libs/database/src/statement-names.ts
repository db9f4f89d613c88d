import { sql, type SQL } from 'drizzle-orm';
import type { QueryArrayConfig, QueryConfig } from 'pg';

type Statement = string | QueryConfig | QueryArrayConfig;

/** Runs of one text before it is named: a statement run once or twice is not worth a name. */
const NAME_AFTER_RUNS = 3;
/**
 * Names given at most: each is a statement prepared on every connection that runs it. Under
 * PgBouncer's default `max_prepared_statements` (200), with Drizzle's own few.
 */
const MAX_NAMES = 192;
/** Texts counted at most before the counts start again (texts that vary: `in ($1, …, $n)`). */
const MAX_COUNTED = 4096;
/** How the text of a statement marked by `plannedEachRun` begins. */
const PLANNED_EACH_RUN = '/* planned each run */ ';

/**
 * `query`, never named here: PostgreSQL plans it for its values on every run. Meant for a
 * statement whose best plan depends on how many elements its arrays hold and on tables that
 * grow fast, and that runs once per group of requests rather than once per request (the debit
 * group's): planning it each time costs little there.
 *
 * After five runs PostgreSQL may keep one generic plan for a named statement, made without its
 * values (it takes every array for ten elements) and for the tables as they are then, until an
 * ANALYZE of one of them replaces it. The debit group's snapshot, named while `usage_records`
 * held a few hundred rows, kept hash-joining a whole scan of it as it grew to 70,000 within
 * minutes: 28–190 ms a group, and debit rounds at half speed until autovacuum's next ANALYZE.
 */
export function plannedEachRun(query: SQL): SQL {
  return sql`${sql.raw(PLANNED_EACH_RUN)}${query}`;
}

/**
 * Names the parameterised statements this process runs again and again, so node-postgres
 * prepares each once per connection and PostgreSQL parses and plans it once there, not on every
 * run. Drizzle names only what its query builders `.prepare()`; the rest (our `sql` statements,
 * pg-boss's) went unnamed, and in the webhook bench planning was 38% of PostgreSQL's time in
 * statements (pg_stat_statements `total_plan_time`).
 *
 * A text is named after it ran `NAME_AFTER_RUNS` times, up to `MAX_NAMES` texts; a statement
 * that already has a name, has no parameters (the simple protocol: pg-boss's multi-statement
 * blocks) or is marked `plannedEachRun` is left as it is. Like every named statement, a
 * prepared plan whose tables change shape under it fails once ("cached plan must not change
 * result type"): migrations run before the application serves.
 */
export class StatementNames {
  private readonly runs = new Map<string, number>();
  private readonly names = new Map<string, string>();

  /** `statement`, named when its text is one of the repeated ones. */
  name(statement: Statement, values: unknown[] | undefined): Statement {
    if (typeof statement === 'object' && statement.name) return statement;
    const text = typeof statement === 'string' ? statement : statement.text;
    const hasValues =
      (values?.length ?? 0) > 0 || (typeof statement === 'object' && (statement.values?.length ?? 0) > 0);
    if (!hasValues || text.startsWith(PLANNED_EACH_RUN)) return statement;
    const name = this.names.get(text) ?? this.count(text);
    if (!name) return statement;
    return typeof statement === 'string' ? { text, name } : { ...statement, name };
  }

  private count(text: string): string | undefined {
    if (this.names.size >= MAX_NAMES) return undefined;
    const runs = (this.runs.get(text) ?? 0) + 1;
    if (runs < NAME_AFTER_RUNS) {
      if (this.runs.size >= MAX_COUNTED) this.runs.clear();
      this.runs.set(text, runs);
      return undefined;
    }
    this.runs.delete(text);
    const name = `credits_${this.names.size + 1}`;
    this.names.set(text, name);
    return name;
  }
}
