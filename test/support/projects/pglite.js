// The `pglite` Jest project: no server, so every database is an in-memory PGlite.
process.env.TEST_DATABASE_URL = '';
