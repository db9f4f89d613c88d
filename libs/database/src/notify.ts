import { sql } from 'drizzle-orm';
import type { Db, DbTransaction } from './types';

/**
 * NOTIFY `channel` with `payload` (PostgreSQL and PGlite): in a transaction, listeners hear it
 * when, and only if, it commits.
 */
export async function notifyChannel(db: Db | DbTransaction, channel: string, payload: string): Promise<void> {
  await db.execute(sql`select pg_notify(${channel}, ${payload})`);
}
