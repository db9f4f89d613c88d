// The `postgres` Jest project: suites make their databases on this server (each test file
// gets its own copy of process.env, so this does not reach the `pglite` project).
process.env.TEST_DATABASE_URL = require('../run/server').serverUrl();
