#!/usr/bin/env node
// @ts-check
// Makes sure the system programs the test suite drives are on this machine, installing them
// from Debian's packages when running as root. Real parts only: tests run a real nats-server,
// Debian's chromium (through playwright-core), promtool and nftables.
//
//   node scripts/ensure-system-deps.mjs          # what `npm test` needs
//   node scripts/ensure-system-deps.mjs --quiet
import { spawnSync } from 'node:child_process';

/** program on PATH -> Debian package that provides it, and why the tests need it */
const NEEDED = [
  {
    program: 'nats-server',
    pkg: 'nats-server',
    why:
      "Debian's 2.9.10 runs the named 2.9 subset (npm run test:nats-2.9) and the " +
      'version-rule tests; the rest run the pinned build',
  },
  { program: 'chromium', pkg: 'chromium', why: 'the dashboard test drives a real headless browser' },
  { program: 'promtool', pkg: 'prometheus', why: 'the alert rules are checked with promtool' },
  { program: 'faketime', pkg: 'faketime', why: 'the pulse clock-offset test runs one node under libfaketime' },
  {
    program: 'nft',
    pkg: 'nftables',
    why: 'NetCluster (the partition tests) cuts links between network namespaces with nftables',
  },
];

const quiet = process.argv.includes('--quiet');

/** @param {string} program */
function has(program) {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

const missing = NEEDED.filter((n) => !has(n.program));
if (missing.length === 0) process.exit(0);

const pkgs = missing.map((m) => m.pkg);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !has('apt-get')) {
  console.error(
    `Missing ${missing.map((m) => `${m.program} (${m.why})`).join(', ')}: ` +
      `install with \`sudo apt-get install -y ${pkgs.join(' ')}\` and run the tests again.`,
  );
  process.exit(1);
}

if (!quiet) console.error(`Installing ${pkgs.join(', ')} from Debian's packages...`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
/** @param {string[]} args */
const run = (args) => spawnSync('apt-get', args, { stdio: quiet ? 'ignore' : 'inherit', env }).status === 0;
if (!run(['update', '-qq']) || !run(['install', '-y', '-qq', '--no-install-recommends', ...pkgs])) {
  console.error(`Could not install ${pkgs.join(' ')} with apt-get; install them by hand and run the tests again.`);
  process.exit(1);
}
const still = missing.filter((m) => !has(m.program));
if (still.length > 0) {
  console.error(`apt-get finished but ${still.map((m) => m.program).join(', ')} is still not on PATH.`);
  process.exit(1);
}
