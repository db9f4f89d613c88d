// Lint: typescript-eslint's type-checked rules over the whole tree (apps, libs, tests, bench).
import eslint from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', '.data/**', 'clients/typescript/dist/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        projectService: { allowDefaultProject: ['drizzle.config.ts', 'eslint.config.mjs', 'jest.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // `_name` marks a binding kept for its position (destructuring, a signature to honour).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // An async function without await still turns a throw into a rejection, which callers of a
      // Promise-returning contract (guards, storage adapters, fixtures) rely on.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Imports in one order everywhere (circles: `npm run lint:cycles`, which sees type imports too).
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })] },
    rules: {
      // node: built-ins, packages, then ours (@credits/…), then relative; blank lines not required.
      'import-x/order': [
        'error',
        {
          groups: ['builtin', 'external', 'internal', ['parent', 'sibling', 'index']],
          pathGroups: [{ pattern: '@credits/**', group: 'internal' }],
          pathGroupsExcludedImportTypes: ['builtin'],
          'newlines-between': 'ignore',
        },
      ],
    },
  },
  {
    // The layers. SQL is written in repositories and the database library only (a service,
    // controller or command asks a repository); the Stripe SDK is called by StripeGateway only
    // (its types may be named anywhere).
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: [
      '**/*.repository.ts',
      'libs/database/**',
      // pg-boss's way into our connections and transactions (its public `db` option).
      'libs/jobs/src/queue-database.ts',
    ],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^drizzle-orm($|/)',
              message: 'SQL belongs in a repository (*.repository.ts) or libs/database.',
            },
            {
              regex: '^class-transformer($|/)',
              message:
                'Declare a conversion with ConvertedBy / NestedOf / AsList (@credits/errors): the validation pipe applies them itself.',
            },
          ],
          paths: [
            {
              name: 'stripe',
              allowTypeImports: true,
              message: 'Only StripeGateway (libs/stripe) and the emulator call the Stripe SDK.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['libs/stripe/**/*.ts', 'apps/stripe-emulator/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': 'off' },
  },
  {
    // Tests read JSON answers, which are `any` by nature; asserting on them is the point.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // `(await res.json()) as T` reads best in a test, even where a type argument could carry T.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
