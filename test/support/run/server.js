// The PostgreSQL server of the `postgres` project, and what the run's setup and teardown do on it.
const { Client } = require('pg');

/** As test/support/projects/postgres.js sets it for the suites. */
const serverUrl = () => process.env.TEST_DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';

/** The Jest projects TEST_PROJECTS keeps (a comma list); empty: all of them. */
const selectedProjects = () => (process.env.TEST_PROJECTS ?? '').split(',').filter(Boolean);

/** False when only the `pglite` project runs: no server is needed then. */
const usesServer = () => {
  const selected = selectedProjects();
  return selected.length === 0 || selected.includes('postgres');
};

/** Databases dropped at once: each DROP DATABASE waits for a checkpoint, and several share one. */
const AT_ONCE = 8;

/**
 * Drops the databases that `select datname … where <condition>` names (`params` for it), a few
 * at a time (one after another, a hundred took ~20 s; 8 at a time, 12.8 s). No server: nothing.
 */
async function dropDatabases(condition, params) {
  const connect = async () => {
    const client = new Client({ connectionString: serverUrl(), connectionTimeoutMillis: 5000 });
    await client.connect();
    return client;
  };
  let lister;
  try {
    lister = await connect();
  } catch {
    return; // the suites that need the server say so themselves
  }
  let names;
  try {
    names = (await lister.query(`select datname from pg_database where ${condition}`, params)).rows.map(
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

module.exports = { serverUrl, selectedProjects, usesServer, dropDatabases };
