// Jest's global teardown: drops every database this run made (see setup.js), after its
// suites have all finished.
const { dropDatabases, usesServer } = require('./server');

module.exports = async function teardown() {
  const run = process.env.CREDITS_TEST_RUN;
  if (!run || !usesServer()) return;
  await dropDatabases('datname like $1', [`credits_test_${run}_%`]);
};
