import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = ['core', 'contracts', 'transport', 'testing', 'sdk', 'pulse', 'reverb', 'dashboard', 'cli'];

// Tests import workspace packages by name; point those names at the TypeScript sources so a
// test always runs the code beside it. Spawned processes (CLI tests) run the built dist/,
// which `npm test` rebuilds first (pretest).
const alias = packages.map((name) => ({
  find: new RegExp(`^@backbeat/${name}$`),
  replacement: fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url)),
}));

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
