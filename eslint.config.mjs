// Lint that pays (STYLE.md): no floating promises, no deep imports across packages, no import
// cycles (checked by madge in `npm run lint`, type-only imports included). Tests, examples, the
// benchmarks, the scripts and the dashboard's browser script are linted with the same rules as
// the source, each with the type information of its own tsconfig.
import tseslint from 'typescript-eslint';

/**
 * Lines of at most 120 characters (docs/decisions/0006-formatter.md): the formatter wraps code, and comments and
 * long strings are wrapped by hand (strings split by concatenation, the runtime text unchanged). Only URLs and
 * regular expression literals (the one-line messages tests match) may run longer.
 */
const MAX_LEN = ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }];

/**
 * Files another branch rewrites at the same time: their long lines are wrapped after it merges, then this list goes.
 */

/** The rules every linted file follows. */
const rules = {
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
  '@typescript-eslint/no-unused-vars': [
    'error',
    { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
  ],
  'max-len': MAX_LEN,
};

/** Packages are imported by name or by a subpath they export for tests (`./internal`, `./vitest`). */
const packageImports = [
  'error',
  {
    patterns: [
      {
        regex: '^@backbeat/[^/]+/(?!internal$|vitest$)',
        message: 'import packages by name (tests: their ./internal or ./vitest subpath), not their internals',
      },
    ],
  },
];

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/dist-examples/**',
      '**/node_modules/**',
      '**/generated/**',
      // Typed and linted by their owners: the chaos suite's parts, the bins, the test fixtures
      // (run as plain Node processes) and the schema generator.
      'scripts/chaos/**',
      'packages/*/bin/**',
      'packages/*/test/fixtures/**',
      'packages/contracts/scripts/**',
      'eslint.config.mjs',
      'vitest.config.ts',
      'sdk-go/**',
    ],
  },
  {
    files: ['packages/*/src/**/*.ts', 'packages/*/examples/**/*.ts', 'packages/*/test/**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: {
        project: ['packages/*/tsconfig.json', 'packages/sdk/examples/tsconfig.json', 'tsconfig.test.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: { ...rules, 'no-restricted-imports': packageImports },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@backbeat/*/*'], message: 'source imports packages by name, never their internals' }] },
      ],
    },
  },
  {
    files: ['bench/**/*.mjs', 'scripts/*.mjs'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { project: ['tsconfig.scripts.json'], tsconfigRootDir: import.meta.dirname } },
    rules: { ...rules, 'no-restricted-imports': packageImports },
  },
  {
    files: ['packages/dashboard/public/*.js'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { project: ['packages/dashboard/public/tsconfig.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules,
  },
);
