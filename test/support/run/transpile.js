// How tests load TypeScript without type-checking it (`npm test` type-checks beside them):
// SWC, with options that match tsconfig.json's emit. Jest's transform and the register hook
// of the child processes some tests start both use these.

/**
 * CommonJS; ES2022 with class fields defined (tsc's default for that target, said here so that
 * a change of SWC's default cannot drift from it); legacy decorators with their metadata (Nest's
 * injection reads it). `syntax`: 'typescript', or 'ecmascript' for the ESM-only JavaScript
 * dependencies Jest must see as CommonJS.
 */
function swcOptions(syntax) {
  return {
    swcrc: false,
    sourceMaps: 'inline',
    module: { type: 'commonjs' },
    jsc: {
      target: 'es2022',
      keepClassNames: true,
      parser: syntax === 'typescript' ? { syntax, decorators: true } : { syntax },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: true },
    },
  };
}

module.exports = { swcOptions };
