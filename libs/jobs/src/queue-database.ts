import type { PGlite } from '@electric-sql/pglite';
import { sql, type SQL, type SQLChunk } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { Pool } from 'pg';
import type { DatabaseHandle, DbTransaction } from '@credits/database';

type QueryRows = { rows: unknown[] };

/**
 * pg-boss's way into the application's own connection(s): the PGlite instance or the
 * PostgreSQL pool behind the handle, so the queue shares them instead of opening more.
 * pg-boss 10 sends parameterised single statements, and parameterless text that may hold
 * several statements (`BEGIN; …; COMMIT;` blocks for its schema and maintenance).
 */
export function queueDatabase(handle: DatabaseHandle): PgBoss.Db {
  // Drizzle's public `$client`: the driver it was built on (see openDatabase()).
  const client = (handle.db as unknown as { $client: PGlite | Pool }).$client;
  return handle.kind === 'pglite' ? pgliteDatabase(client as PGlite) : poolDatabase(client as Pool);
}

function poolDatabase(pool: Pool): PgBoss.Db {
  return {
    // No values: node-postgres uses the simple protocol, which takes several statements, and
    // PostgreSQL ends a failed explicit transaction with the query string.
    executeSql: (text, values) => pool.query(text, values),
  };
}

function pgliteDatabase(pglite: PGlite): PgBoss.Db {
  return {
    async executeSql(text, values) {
      if (values?.length) return pglite.query(text, values);
      // PGlite's one connection outlives a failed `BEGIN; …; COMMIT;` in an aborted transaction
      // that would fail every later query of the application. Inside transaction() the text runs
      // while no other query can, and a failure rolls the connection back.
      const results = await pglite.transaction((tx) => tx.exec(text));
      return { rows: results.flatMap((result) => result.rows) };
    },
  };
}

/**
 * pg-boss's way into a caller's transaction: a job sent through it is written by that
 * transaction, so it exists if and only if the transaction commits (the outbox pattern).
 * Used for single parameterised statements only (sending jobs).
 */
export function transactionDatabase(tx: DbTransaction): PgBoss.Db {
  return {
    async executeSql(text, values = []) {
      const result = await tx.execute(statementOf(text, values));
      return { rows: (result as QueryRows).rows };
    },
  };
}

/** `$n` placeholders as Drizzle parameters: Drizzle numbers them again when it renders the query. */
function statementOf(text: string, values: unknown[]): SQL {
  const chunks: SQLChunk[] = [];
  let last = 0;
  for (const match of text.matchAll(/\$(\d+)/g)) {
    chunks.push(sql.raw(text.slice(last, match.index)), sql.param(values[Number(match[1]) - 1]));
    last = match.index + match[0].length;
  }
  chunks.push(sql.raw(text.slice(last)));
  return sql.join(chunks);
}
