#!/usr/bin/env node
// @ts-check
// Makes sure the nats-server the tests, the chaos suite, the benchmarks and `backbeat cluster`
// run is on this machine: the pinned release, built from its Go module into the cache directory
// when it is not there yet. The rule that then picks the program is
// packages/testing/src/nats-binary.ts; this script only prepares what that rule finds first.
//
//   node scripts/ensure-nats-server.mjs            # build when missing, print the version in use
//   BACKBEAT_NATS_SERVER=/path/to/nats-server ...  # use that program instead (nothing is built)
//
// Without Go, a nats-server on PATH is used when it is 2.10 or newer; otherwise one line says
// what to install. Never a silent fallback to an older server.
// The cache directory, the pinned version and how a version is read come from the rule itself
// (@backbeat/testing, built by `npm ci`), and versions compare with @backbeat/transport's
// compareServerVersions, so none of it can drift apart.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  MIN_PATH_VERSION,
  PINNED_NATS_SERVER_VERSION as VERSION,
  pinnedBinaryPath,
  readVersion as versionOf,
} from '@backbeat/testing';
import { compareServerVersions } from '@backbeat/transport';

const MODULE = `github.com/nats-io/nats-server/v2@v${VERSION}`;
const target = pinnedBinaryPath();
const cache = dirname(dirname(target));

/**
 * @param {string} line
 * @returns {never}
 */
function fail(line) {
  console.error(line);
  process.exit(1);
}

/**
 * @param {string} path
 * @param {string} version
 * @param {string} how
 * @returns {never}
 */
function done(path, version, how) {
  console.error(`nats-server ${version} (${path}, ${how})`);
  process.exit(0);
}

const chosen = process.env.BACKBEAT_NATS_SERVER;
if (chosen) {
  const v = versionOf(chosen);
  if (!v) fail(`BACKBEAT_NATS_SERVER=${chosen}: does not run as a nats-server (\`${chosen} --version\` failed)`);
  done(chosen, v, 'BACKBEAT_NATS_SERVER');
}

const cached = existsSync(target) ? versionOf(target) : undefined;
if (cached) done(target, cached, 'built from its Go module');

const go = spawnSync('go', ['version'], { encoding: 'utf8' });
if (go.error || go.status !== 0) {
  const onPath = versionOf('nats-server');
  if (onPath && compareServerVersions(onPath, MIN_PATH_VERSION) >= 0)
    done('nats-server', onPath, 'from PATH; Go is not installed, so the pinned release was not built');
  fail(
    `Go is not installed and ` +
      `${onPath ? `the nats-server on PATH is ${onPath} (older than 2.10)` : 'no nats-server is on PATH'}: ` +
      `install Go 1.25 or newer (then run this again to build nats-server v${VERSION}), or ` +
      'set BACKBEAT_NATS_SERVER=/path/to/nats-server (2.10 or newer)',
  );
}

console.error(`Building nats-server v${VERSION} from its Go module into ${dirname(target)} (once; about a minute)...`);
const staging = join(cache, `.build-${process.pid}`);
mkdirSync(staging, { recursive: true });
const build = spawnSync('go', ['install', '-trimpath', MODULE], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, GOBIN: staging, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
});
if (build.status !== 0) {
  rmSync(staging, { recursive: true, force: true });
  fail(
    `go install ${MODULE} failed (exit ${build.status ?? build.signal}); see the ` +
      'lines above, or set BACKBEAT_NATS_SERVER=/path/to/nats-server',
  );
}
mkdirSync(dirname(target), { recursive: true });
// A rename into place: a run stopped half-way never leaves a half-written program behind.
renameSync(join(staging, 'nats-server'), target);
rmSync(staging, { recursive: true, force: true });
const built = versionOf(target);
if (!built) fail(`the nats-server built at ${target} does not run; remove it and try again`);
done(target, built, 'built from its Go module');
