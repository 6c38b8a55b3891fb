#!/usr/bin/env node
// @ts-check
// Keeps every package manifest true to its code (run by `npm run lint`):
// - each package imported by src/ (or bin/) is in `dependencies`, and each dependency is used;
//   a src file the manifest names in `backbeat.devOnly` (a test-only entry, e.g. the harness's
//   `@backbeat/testing/vitest`) may import `devDependencies` too, and no other src file imports it;
// - each package imported by test/ or examples/ is declared by the package (dependencies or
//   devDependencies) or, for shared tools (vitest, fast-check ...), by the root;
// - tsconfig `references` name exactly the @backbeat packages src/ imports;
// - every `files` entry exists.
// Prints one line per problem and exits 1 when there is any.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const builtins = new Set(builtinModules);
/** @type {string[]} */
const problems = [];

/**
 * Files below `dir` ending in one of `exts` (no dist or node_modules).
 * @param {string} dir
 * @param {string[]} exts
 * @returns {string[]}
 */
function walk(dir, exts) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'dist' || name === 'dist-examples' || name === 'generated-fixtures')
      return [];
    if (statSync(p).isDirectory()) return walk(p, exts);
    return exts.some((e) => name.endsWith(e)) ? [p] : [];
  });
}

/**
 * Bare package names a file imports (static, dynamic, type and re-exports).
 * @param {string} file
 */
function importsOf(file) {
  const src = readFileSync(file, 'utf8');
  /** @type {Set<string>} */
  const names = new Set();
  const re =
    /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*|\bcreateRequire\([^)]*\)\(\s*)['"]([^'"]+)['"]/g;
  for (const m of src.matchAll(re)) {
    const spec = m[1];
    if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) continue;
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    if (!builtins.has(name)) names.add(name);
  }
  return names;
}

for (const dir of readdirSync(join(root, 'packages'))) {
  const pkgDir = join(root, 'packages', dir);
  const pkgFile = join(pkgDir, 'package.json');
  if (!existsSync(pkgFile)) continue;
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  const where = `packages/${dir}/package.json`;
  const deps = new Set(Object.keys(pkg.dependencies ?? {}));
  const devDeps = new Set(Object.keys(pkg.devDependencies ?? {}));
  const devOnly = new Set((pkg.backbeat?.devOnly ?? []).map((/** @type {string} */ f) => join(pkgDir, f)));
  const rootDev = new Set(Object.keys(rootPkg.devDependencies ?? {}));

  const srcFiles = [...walk(join(pkgDir, 'src'), ['.ts']), ...walk(join(pkgDir, 'bin'), ['.js', '.mjs'])];
  /** @type {Map<string, string>} */
  const srcImports = new Map();
  for (const f of srcFiles) {
    for (const n of importsOf(f)) {
      if (n === pkg.name) continue;
      if (devOnly.has(f) && devDeps.has(n)) continue;
      srcImports.set(n, srcImports.get(n) ?? relative(root, f));
    }
  }
  for (const d of devOnly) {
    if (!existsSync(d))
      problems.push(`${where}: backbeat.devOnly lists '${relative(pkgDir, d)}', which does not exist`);
    const spec = `./${relative(join(pkgDir, 'src'), d).replace(/\.ts$/, '.js')}`;
    for (const f of srcFiles)
      if (f !== d && readFileSync(f, 'utf8').includes(`'${spec}'`))
        problems.push(`${relative(root, f)} imports the test-only ${spec}`);
  }
  for (const [n, f] of srcImports)
    if (!deps.has(n)) problems.push(`${where}: ${f} imports '${n}', which is not in dependencies`);
  for (const d of deps)
    if (!srcImports.has(d)) problems.push(`${where}: dependency '${d}' is not imported by src/ or bin/`);

  const otherFiles = [
    ...walk(join(pkgDir, 'test'), ['.ts', '.mjs', '.js']),
    ...walk(join(pkgDir, 'examples'), ['.ts']),
  ];
  for (const f of otherFiles) {
    for (const n of importsOf(f)) {
      if (n === pkg.name || deps.has(n) || devDeps.has(n)) continue;
      if (!n.startsWith('@backbeat/') && rootDev.has(n)) continue;
      problems.push(`${where}: ${relative(root, f)} imports '${n}': declare it in devDependencies`);
    }
  }

  const tsconfig = join(pkgDir, 'tsconfig.json');
  if (existsSync(tsconfig)) {
    const refs = new Set(
      (JSON.parse(readFileSync(tsconfig, 'utf8')).references ?? []).map(
        (/** @type {{ path: string }} */ r) => `@backbeat/${r.path.replace(/^\.\.\//, '')}`,
      ),
    );
    const wanted = new Set([...srcImports.keys()].filter((n) => n.startsWith('@backbeat/')));
    for (const w of wanted)
      if (!refs.has(w))
        problems.push(`packages/${dir}/tsconfig.json: src imports '${w}' but references do not name it`);
    for (const r of refs)
      if (!wanted.has(r)) problems.push(`packages/${dir}/tsconfig.json: references '${r}', which src does not import`);
  }

  for (const f of pkg.files ?? [])
    if (!existsSync(join(pkgDir, f))) problems.push(`${where}: files lists '${f}', which does not exist`);
}

for (const p of problems) console.error(p);
if (problems.length > 0) {
  console.error(`check-manifests: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
  process.exit(1);
}
console.log('check-manifests: every manifest matches its code');
