// Lint that pays (STYLE.md): no floating promises, no deep imports across packages, no import
// cycles (type-only imports count: a cycle of types is still a knot for the reader). Tests
// and examples are linted with the same rules as the source.
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/dist-examples/**', '**/node_modules/**', '**/generated/**', 'bench/**', 'scripts/**', '**/public/**', '**/*.mjs', '**/*.js', 'vitest.config.ts'] },
  {
    files: ['packages/*/src/**/*.ts', 'packages/*/examples/**/*.ts', 'packages/*/test/**/*.ts'],
    extends: [tseslint.configs.base],
    plugins: { 'import-x': importX },
    languageOptions: { parserOptions: { project: ['packages/*/tsconfig.json', 'packages/sdk/examples/tsconfig.json', 'tsconfig.test.json'], tsconfigRootDir: import.meta.dirname } },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'packages/*/tsconfig.json' })] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['@backbeat/*/*'], message: 'import packages by name, not their internals' }] }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
);
