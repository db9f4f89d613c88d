import { getTableColumns, type SQL, type Table } from 'drizzle-orm';
import type { Db, DbTransaction } from './types';

/**
 * The rows of a raw statement (`sql\`…\``), typed as the caller expects them. Both drivers
 * answer `{ rows }`, but `Db` is typed for either, so `execute()` cannot say so itself.
 */
export async function rows<T = Record<string, unknown>>(db: Db | DbTransaction, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  return (result as { rows: T[] }).rows;
}

/**
 * A row of `table` as a raw statement answers it (column names, the driver's values: text for
 * a bigint on node-postgres, for a timestamp on both drivers), mapped by the table's own
 * columns as the query builder maps it. For hot statements written as `sql`, which cost a
 * fraction of a query builder's to build.
 */
export function rowOf<T extends Table>(table: T, raw: Record<string, unknown>): T['$inferSelect'] {
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row;
}
