/**
 * Which nats-server the project runs, and the one line each bad setup gives (issue: run on the
 * NATS that users run): scripts/ensure-nats-server.mjs and natsServerBinary().
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  legacyNatsServerBinary,
  natsServerBinary,
  PINNED_NATS_SERVER_VERSION,
  pinnedBinaryPath,
} from '@backbeat/testing';

const script = fileURLToPath(new URL('../../../scripts/ensure-nats-server.mjs', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'bb-natsbin-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A PATH holding only node and, when given, a `nats-server` that is `target`. */
function pathWith(name: string, target?: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  symlinkSync(process.execPath, join(dir, 'node'));
  if (target) symlinkSync(target, join(dir, 'nats-server'));
  return dir;
}

function ensure(env: NodeJS.ProcessEnv): { status: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, [script], { env, encoding: 'utf8' });
  return { status: r.status, lines: `${r.stdout}${r.stderr}`.trim().split('\n') };
}

describe('nats-server - the program the project runs', () => {
  it(
    'nats-server - the suite runs the pinned release built from its Go ' +
      'module (or the one BACKBEAT_NATS_SERVER names)',
    () => {
      const b = natsServerBinary();
      if (process.env.BACKBEAT_NATS_SERVER)
        expect(b).toMatchObject({ source: 'env', path: process.env.BACKBEAT_NATS_SERVER });
      else expect(b).toMatchObject({ source: 'cache', version: PINNED_NATS_SERVER_VERSION, path: pinnedBinaryPath() });
    },
  );

  it('nats-server - BACKBEAT_NATS_SERVER that does not run is one line', () => {
    const { status, lines } = ensure({
      PATH: process.env.PATH,
      BACKBEAT_NATS_SERVER: '/nonexistent/nats-server',
      BACKBEAT_CACHE_DIR: join(tmp, 'c1'),
    });
    expect(status).toBe(1);
    expect(lines).toEqual([
      'BACKBEAT_NATS_SERVER=/nonexistent/nats-server: does not run as a ' +
        'nats-server (`/nonexistent/nats-server --version` failed)',
    ]);
    expect(() => natsServerBinary({ BACKBEAT_NATS_SERVER: '/nonexistent/nats-server' })).toThrow(
      /^BACKBEAT_NATS_SERVER=\/nonexistent\/nats-server: does not run/,
    );
  });

  it(
    'nats-server - without Go and with only a 2.9 server on PATH: ' + 'one line saying what to install, no fallback',
    () => {
      const legacy = legacyNatsServerBinary().path;
      const { status, lines } = ensure({
        PATH: pathWith('old', legacy),
        BACKBEAT_CACHE_DIR: join(tmp, 'c2'),
        HOME: tmp,
      });
      expect(status).toBe(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^Go is not installed and the nats-server on PATH is 2\.9\.10 \(older than 2\.10\): install Go 1\.25 or newer .*BACKBEAT_NATS_SERVER/,
      );
      expect(() => natsServerBinary({ PATH: pathWith('old2', legacy), BACKBEAT_CACHE_DIR: join(tmp, 'c2') })).toThrow(
        /nats-server on PATH is 2\.9\.10, older than 2\.10/,
      );
    },
  );

  it('nats-server - without Go, a 2.10+ server on PATH is used and named', () => {
    const { status, lines } = ensure({
      PATH: pathWith('new', pinnedBinaryPath()),
      BACKBEAT_CACHE_DIR: join(tmp, 'c3'),
      HOME: tmp,
    });
    expect(status).toBe(0);
    expect(lines).toEqual([
      `nats-server ${PINNED_NATS_SERVER_VERSION} (nats-server, from PATH; Go is ` +
        'not installed, so the pinned release was not built)',
    ]);
  });

  it('nats-server - a failing build is one line after the build output, and leaves nothing half-written', () => {
    // A `go` that fails as a build does.
    const dir = pathWith('badgo');
    const go = join(dir, 'go');
    writeFileSync(
      go,
      '#!/bin/sh\nif [ "$1" = version ]; then echo "go version go1.26.8 linux/amd64"; ' +
        'exit 0; fi\necho "build failed: no network" >&2\nexit 1\n',
    );
    chmodSync(go, 0o755);
    symlinkSync('/bin/sh', join(dir, 'sh'));
    const cache = join(tmp, 'c4');
    const { status, lines } = ensure({ PATH: dir, BACKBEAT_CACHE_DIR: cache, HOME: tmp });
    expect(status).toBe(1);
    expect(lines.at(-1)).toMatch(
      /^go install github\.com\/nats-io\/nats-server\/v2@v2\.14\.10 failed \(exit 1\); see the lines above, or set BACKBEAT_NATS_SERVER/,
    );
    expect(spawnSync('ls', ['-A', dirname(pinnedBinaryPath({ BACKBEAT_CACHE_DIR: cache }))]).status).not.toBe(0);
  });
});
