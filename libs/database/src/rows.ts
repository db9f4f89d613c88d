import type { SQL } from 'drizzle-orm';
import type { Db, DbTransaction } from './types';

/**
 * The rows of a raw statement (`sql\`…\``), typed as the caller expects them. Both drivers
 * answer `{ rows }`, but `Db` is typed for either, so `execute()` cannot say so itself.
 */
export async function rows<T = Record<string, unknown>>(db: Db | DbTransaction, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  return (result as { rows: T[] }).rows;
}
