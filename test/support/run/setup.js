// Jest's global setup: names this run, so the PostgreSQL databases its suites make
// (`credits_test_<run>_…`, test/support/database.ts) are dropped together by the teardown.
// Databases left by a run that was killed before its teardown go here, once an hour old.
const { Client } = require('pg');
const { serverUrl, usesServer } = require('./server');

const STALE_SECONDS = 3600;

module.exports = async function setup() {
  const run = String(Math.floor(Date.now() / 1000));
  process.env.CREDITS_TEST_RUN = run;
  if (!usesServer()) return;
  const client = new Client({ connectionString: serverUrl(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch {
    return; // the suites that need the server say so themselves
  }
  try {
    const { rows } = await client.query(
      `select datname from pg_database where datname ~ '^credits_test_[0-9]+_' and split_part(datname, '_', 3)::bigint < $1`,
      [Number(run) - STALE_SECONDS],
    );
    for (const { datname } of rows) await client.query(`drop database if exists ${datname} with (force)`);
  } finally {
    await client.end();
  }
};
