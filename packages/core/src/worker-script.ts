/**
 * The built script `file` of a package's worker thread, for the module at `moduleUrl` (its
 * `import.meta.url`): beside that module once built (`dist/`); from the TypeScript sources
 * (tests run them through an alias to `src/`), the built one in the package's `dist/`, as for
 * spawned processes, since a worker thread does not load TypeScript.
 */
export function workerScript(moduleUrl: string, file: string): URL {
  return moduleUrl.endsWith('.ts') ? new URL(`../dist/${file}`, moduleUrl) : new URL(`./${file}`, moduleUrl);
}
