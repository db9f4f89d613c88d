// Jest's global setup: names this run, so the PostgreSQL databases its suites make
// (`credits_test_<run>_…`, test/support/database.ts) are dropped together by the teardown.
// The name is its start second and a random part: two runs started in the same second (two
// terminals, two checkouts) must not drop each other's databases. Databases left by a run
// that was killed before its teardown go here, once an hour old.
const { randomBytes } = require('node:crypto');
const { dropDatabases, usesServer } = require('./server');

const STALE_SECONDS = 3600;

module.exports = async function setup() {
  const started = Math.floor(Date.now() / 1000);
  process.env.CREDITS_TEST_RUN = `${started}_${randomBytes(4).toString('hex')}`;
  if (!usesServer()) return;
  await dropDatabases(`datname ~ '^credits_test_[0-9]+_' and split_part(datname, '_', 3)::bigint < $1`, [
    started - STALE_SECONDS,
  ]);
};
