// Jest's global teardown: drops every database this run made (see setup.js), after its
// suites have all finished. Each DROP DATABASE waits for a checkpoint; several at once share
// one, so they go a few at a time (one after another, a hundred took ~20 s).
const { Client } = require('pg');
const { serverUrl, usesServer } = require('./server');

const AT_ONCE = 8;

module.exports = async function teardown() {
  const run = process.env.CREDITS_TEST_RUN;
  if (!run || !usesServer()) return;
  await dropDatabases(`credits_test_${run}_%`);
};

/** Drops the databases whose names match `pattern` (LIKE), AT_ONCE at a time. */
async function dropDatabases(pattern) {
  const connect = async () => {
    const client = new Client({ connectionString: serverUrl(), connectionTimeoutMillis: 5000 });
    await client.connect();
    return client;
  };
  let lister;
  try {
    lister = await connect();
  } catch {
    return; // no server: nothing was made on it
  }
  let names;
  try {
    names = (await lister.query('select datname from pg_database where datname like $1', [pattern])).rows.map(
      (row) => row.datname,
    );
  } finally {
    await lister.end();
  }
  const dropper = async () => {
    const client = await connect();
    try {
      for (let name = names.pop(); name; name = names.pop()) {
        await client.query(`drop database if exists ${name} with (force)`);
      }
    } finally {
      await client.end();
    }
  };
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, names.length) }, dropper));
}
