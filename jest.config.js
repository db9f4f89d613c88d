/** @type {import('jest').Config} */
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

module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  moduleFileExtensions: ['js', 'json', 'ts'],
  testRegex: '(apps|libs|test)/.*\\.(spec|e2e-spec)\\.ts$',
  // Transpile only (isolatedModules in tsconfig.json): fast; `npm run typecheck` type-checks the whole tree first.
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
    // The ESM-only dependencies above, compiled to CommonJS for Jest where it needs that.
    '^.+\\.js$': ['ts-jest', { diagnostics: false, tsconfig: { allowJs: true, isolatedModules: true } }],
  },
  transformIgnorePatterns: [jestLoadsEsm ? '/node_modules/' : `/node_modules/(?!(${esmOnly.join('|')})/)`],
  moduleNameMapper: Object.fromEntries(
    aliases.map((name) => [`^@credits/${name}(|/.*)$`, `<rootDir>/libs/${name}/src$1`]),
  ),
  testTimeout: 60000,
  maxWorkers: 2,
};
