/** @type {import('jest').Config} */
const aliases = ['errors', 'config', 'database', 'identity', 'auth', 'stripe', 'billing', 'traffic', 'jobs', 'pagination'];

module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  moduleFileExtensions: ['js', 'json', 'ts'],
  testRegex: '(apps|libs|test)/.*\\.(spec|e2e-spec)\\.ts$',
  // Transpile only (isolatedModules in tsconfig.json): fast; `npm run typecheck` type-checks the whole tree first.
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
    // ESM-only dependencies (of @fastify/static, swagger-parser), compiled to CommonJS for Jest.
    '^.+\\.js$': ['ts-jest', { diagnostics: false, tsconfig: { allowJs: true, isolatedModules: true } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(content-disposition|@apidevtools/json-schema-ref-parser)/)'],
  moduleNameMapper: Object.fromEntries(
    aliases.map((name) => [`^@credits/${name}(|/.*)$`, `<rootDir>/libs/${name}/src$1`]),
  ),
  testTimeout: 60000,
  maxWorkers: 2,
};
