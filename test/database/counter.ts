import { sql } from 'drizzle-orm';
import type { Db } from '@credits/database';

/**
 * 20 concurrent read-modify-write transactions on one counter. The read and the write are
 * separated by a timer tick, so interleaved transactions would lose updates.
 */
export async function concurrentIncrements(db: Db, options: { forUpdate: boolean; count?: number }): Promise<number> {
  const count = options.count ?? 20;
  await db.execute(sql`create table if not exists test_counter (id int primary key, n int not null)`);
  await db.execute(sql`insert into test_counter (id, n) values (1, 0) on conflict (id) do update set n = 0`);
  const lock = options.forUpdate ? sql` for update` : sql``;
  await Promise.all(
    Array.from({ length: count }, () =>
      db.transaction(async (tx) => {
        const { rows } = (await tx.execute(sql`select n from test_counter where id = 1${lock}`)) as unknown as {
          rows: Array<{ n: number }>;
        };
        await new Promise((resolve) => setTimeout(resolve, 2));
        await tx.execute(sql`update test_counter set n = ${Number(rows[0].n) + 1} where id = 1`);
      }),
    ),
  );
  const { rows } = (await db.execute(sql`select n from test_counter where id = 1`)) as unknown as {
    rows: Array<{ n: number }>;
  };
  return Number(rows[0].n);
}
