// Lint that pays (STYLE.md): no floating promises, no deep imports across packages.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/dist-examples/**', '**/node_modules/**', '**/generated/**', 'bench/**', 'scripts/**', '**/public/**', '**/*.mjs', '**/*.js', '**/test/**', 'vitest.config.ts'] },
  {
    files: ['packages/*/src/**/*.ts', 'packages/*/examples/**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['@backbeat/*/*'], message: 'import packages by name, not their internals' }] }],
    },
  },
);
