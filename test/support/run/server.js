// The PostgreSQL server of the `postgres` project (as test/support/projects/postgres.js sets it).
const serverUrl = () => process.env.TEST_DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';

/** False when only the `pglite` project runs: no server is needed then. */
const usesServer = () => {
  const selected = (process.env.TEST_PROJECTS ?? '').split(',').filter(Boolean);
  return selected.length === 0 || selected.includes('postgres');
};

module.exports = { serverUrl, usesServer };
