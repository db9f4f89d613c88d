// The `postgres` Jest project: suites make their databases on this server (each test file
// gets its own copy of process.env, so this does not reach the `pglite` project).
process.env.TEST_DATABASE_URL ||= 'postgres://postgres@127.0.0.1:5432/postgres';
