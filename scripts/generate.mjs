#!/usr/bin/env node
// @ts-check
// Runs every package's code generator (schemas -> types). Generators write only when the
// output changes, so an unchanged build stays incremental.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const generators = ['packages/contracts/scripts/generate.mjs'];
for (const script of generators) {
  if (!existsSync(script)) continue;
  const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
