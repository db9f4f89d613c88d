import { defineConfig } from 'drizzle-kit';

/**
 * `npm run db:generate` writes a new SQL migration into libs/database/migrations
 * from the schema. The migrations are committed and applied by `openDatabase()`
 * at startup (PGlite or PostgreSQL alike), so no database connection is needed here.
 */
export default defineConfig({
  dialect: 'postgresql',
  schema: './libs/database/src/schema.ts',
  out: './libs/database/migrations',
  strict: true,
  verbose: true,
});
