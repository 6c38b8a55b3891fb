import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory())
      return name === 'node_modules' || name === 'dist' || name === 'generated' ? [] : sources(p);
    // A test folder inside the repository, not a 'test' anywhere in the checkout's own path.
    return /\.(ts|js)$/.test(name) && !relative(root, p).split(sep).includes('test') ? [p] : [];
  });
}

const codeIn = (text: string) => new Set([...text.matchAll(/BB_ERR_[A-Z][A-Z_]*[A-Z]/g)].map((m) => m[0]));

describe('errors - docs/errors.md and the source agree', () => {
  const packages = readdirSync(join(root, 'packages'));
  const used = new Set<string>();
  for (const p of packages)
    for (const f of sources(join(root, 'packages', p, 'src')))
      for (const c of codeIn(readFileSync(f, 'utf8'))) used.add(c);
  const documented = codeIn(doc);

  it('errors - every code in the source is documented', () => {
    expect([...used].filter((c) => !documented.has(c)).sort()).toEqual([]);
  });

  it('errors - every documented code exists in the source', () => {
    expect([...documented].filter((c) => !used.has(c)).sort()).toEqual([]);
  });

  it('errors - no code is registered by two packages', async () => {
    const registries = await Promise.all([
      import('@backbeat/core').then((m) => m.ERROR_CODES),
      import('@backbeat/contracts').then((m) => m.CONTRACTS_ERROR_CODES),
      import('@backbeat/transport').then((m) => m.TRANSPORT_ERROR_CODES),
      import('@backbeat/sdk').then((m) => m.SDK_ERROR_CODES),
      import('@backbeat/reverb').then((m) => m.REVERB_ERROR_CODES),
      import('@backbeat/cli').then((m) => m.CLI_ERROR_CODES),
    ]);
    const all = registries.flatMap((r) => Object.keys(r));
    expect(all.length).toBe(new Set(all).size);
    for (const code of all) expect(documented.has(code), code).toBe(true);
  });
});
