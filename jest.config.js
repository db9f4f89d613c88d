const { swcOptions } = require('./test/support/run/transpile');

const aliases = [
  'errors',
  'config',
  'database',
  'identity',
  'auth',
  'stripe',
  'billing',
  'traffic',
  'jobs',
  'pagination',
];
/** ESM-only dependencies (of @fastify/static, swagger-parser) that CommonJS code requires. */
const esmOnly = ['content-disposition', '@apidevtools/json-schema-ref-parser'];
// Jest 30 on Node 24.9+ loads them as ES modules itself (the VM API evaluates them at once
// there; a copy compiled to CommonJS would fail with "exports is not defined"). On older
// Node they must be compiled to CommonJS first.
const jestLoadsEsm = typeof require('node:vm').SourceTextModule?.prototype.hasAsyncGraph === 'function';

/** What every project shares: how TypeScript and the aliases load. */
const base = {
  rootDir: '.',
  testEnvironment: 'node',
  moduleFileExtensions: ['js', 'json', 'ts'],
  // Transpile only, with SWC (isolatedModules in tsconfig.json makes that safe): `npm test`
  // type-checks the whole tree beside it. Measured on a fresh clone, the workers spent 202 s of
  // CPU with TypeScript's own transpiler (each worker transpiling the sources) and 181 s with SWC.
  transform: {
    '^.+\\.ts$': ['@swc/jest', swcOptions('typescript')],
    // The ESM-only dependencies above, compiled to CommonJS for Jest where it needs that.
    '^.+\\.js$': ['@swc/jest', swcOptions('ecmascript')],
  },
  transformIgnorePatterns: [jestLoadsEsm ? '/node_modules/' : `/node_modules/(?!(${esmOnly.join('|')})/)`],
  moduleNameMapper: Object.fromEntries(
    aliases.map((name) => [`^@credits/${name}(|/.*)$`, `<rootDir>/libs/${name}/src$1`]),
  ),
};

/**
 * Two projects in one run, so one pool of workers keeps both cores busy:
 * - `postgres`: every suite, each on a database of its own on the PostgreSQL server that
 *   TEST_DATABASE_URL names (default: the local one);
 * - `pglite`: the PGlite specs, the money-loop smoke suite, and the suites whose points must
 *   hold on both databases (credit grants through HTTP and the CLI, the webhook's `sql`
 *   statements on a checkout session), on in-memory PGlite.
 * `npm run jest -- <file>` runs a file in every project that holds it. TEST_PROJECTS=pglite (a
 * comma list) keeps only those projects: Jest's own `--selectProjects` takes every word after
 * it as a project name, so `npm run test:pglite -- <file>` could not pass a file through it.
 */
const projects = [
  {
    ...base,
    displayName: 'postgres',
    testRegex: '(apps|libs|test)/.*\\.(spec|e2e-spec)\\.ts$',
    testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/database/pglite\\.spec\\.ts$'],
    setupFiles: ['<rootDir>/test/support/projects/postgres.js'],
  },
  {
    ...base,
    displayName: 'pglite',
    testMatch: [
      '<rootDir>/test/database/pglite.spec.ts',
      '<rootDir>/test/database/checkout-session-writes.spec.ts',
      '<rootDir>/test/e2e/money-loop.smoke.e2e-spec.ts',
      '<rootDir>/test/e2e/grants/grants.e2e-spec.ts',
      '<rootDir>/test/e2e/fulfilment/cli-credits.e2e-spec.ts',
    ],
    setupFiles: ['<rootDir>/test/support/projects/pglite.js'],
  },
];
const selected = require('./test/support/run/server').selectedProjects();
for (const name of selected) {
  if (!projects.some((project) => project.displayName === name)) throw new Error(`TEST_PROJECTS: no project "${name}"`);
}

/** @type {import('jest').Config} */
module.exports = {
  projects: selected.length ? projects.filter((project) => selected.includes(project.displayName)) : projects,
  globalSetup: '<rootDir>/test/support/run/setup.js',
  globalTeardown: '<rootDir>/test/support/run/teardown.js',
  testTimeout: 60000,
  // Two cores, four workers: many suites spend part of their time waiting on real clocks (job
  // retries, deadlines, expiries), and a fourth worker fills that. Two alternated pairs of
  // fresh `npm test` runs: 188 and 212 s with four, 204 and 215 s with three.
  maxWorkers: 4,
};
