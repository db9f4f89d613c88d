// Jest's global teardown: drops every database this run made (see setup.js), after its
// suites have all finished. Dropped one after another, the forced checkpoints find little to write.
const { Client } = require('pg');
const { serverUrl, usesServer } = require('./server');

module.exports = async function teardown() {
  const run = process.env.CREDITS_TEST_RUN;
  if (!run || !usesServer()) return;
  const client = new Client({ connectionString: serverUrl(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch {
    return;
  }
  try {
    const { rows } = await client.query('select datname from pg_database where datname like $1', [
      `credits_test_${run}_%`,
    ]);
    for (const { datname } of rows) await client.query(`drop database if exists ${datname} with (force)`);
  } finally {
    await client.end();
  }
};
