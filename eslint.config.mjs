// Lint that pays (STYLE.md): no floating promises, no deep imports across packages, no import
// cycles (checked by madge in `npm run lint`, type-only imports included). Tests and examples
// are linted with the same rules as the source.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/dist-examples/**', '**/node_modules/**', '**/generated/**', 'bench/**', 'scripts/**', '**/public/**', '**/*.mjs', '**/*.js', 'vitest.config.ts'] },
  {
    files: ['packages/*/src/**/*.ts', 'packages/*/examples/**/*.ts', 'packages/*/test/**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { project: ['packages/*/tsconfig.json', 'packages/sdk/examples/tsconfig.json', 'tsconfig.test.json'], tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['@backbeat/*/*', '!@backbeat/*/internal'], message: 'import packages by name, not their internals' }] }],
    },
  },
);
