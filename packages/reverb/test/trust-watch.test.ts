/**
 * Trust file reloads that survive atomic replaces: the directory is watched, so
 * after every rename over the file and every in-place rewrite the revoked key is refused and
 * the new one accepted; SIGHUP still reloads; a bad file keeps the keys in force.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { MemoryBus } from '@backbeat/transport';
import { publicKeyBase64 } from '@backbeat/sdk';
import { Reverb, TrustStore, watchTrustFile, type TrustWatch } from '@backbeat/reverb';

const enc = new TextEncoder();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const trustOf = (key: KeyObject) => JSON.stringify({ agents: { 'agent:w': [publicKeyBase64(key)] } });

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'backbeat-trust-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'trust.json');
  const first = generateKeyPairSync('ed25519').privateKey;
  writeFileSync(file, trustOf(first));
  const bus = new MemoryBus();
  const reverb = new Reverb({
    bus,
    clusterId: 'tw',
    nodeId: 'tw',
    barLength: 4,
    signatures: 'require',
    trust: TrustStore.load(file),
    verifyThreads: 0,
  });
  await reverb.start();
  cleanups.push(async () => {
    await reverb.stop();
    await bus.close();
  });
  const loads: string[] = [];
  const errors: string[] = [];
  const signals = new EventEmitter();
  const watch: TrustWatch = watchTrustFile(file, {
    onLoad: (store, why) => {
      reverb.setTrust(store);
      loads.push(why);
    },
    onError: (err) => errors.push(err.message),
    debounceMs: 20,
    signals,
  });
  cleanups.push(() => watch.close());
  let n = 0;
  /** What reverb makes of a claim of agent:w signed with `key`. */
  const verdict = (key: KeyObject) => {
    const data = enc.encode(
      JSON.stringify({
        type: 'backbeat.statusclaim.v1',
        agent_id: 'agent:w',
        beat_index: 0,
        state: 'executing',
        hlc: `18bcfe56800:${(n++).toString(16).padStart(4, '0')}:abcd`,
      }),
    );
    return reverb.ingest(
      data,
      { 'x-agent-id': 'agent:w', 'x-signature': sign(null, data, key).toString('base64') },
      Date.now(),
    );
  };
  return { dir, file, first, loads, errors, signals, verdict };
}

describe('reverb - trust file reloads', () => {
  it(
    'trust-watch - five atomic replaces in a row: after each the ' + 'revoked key is refused and the new key accepted',
    async () => {
      const t = await setup();
      expect(t.verdict(t.first)).toBe('accepted');
      let old = t.first;
      for (let round = 1; round <= 5; round++) {
        const next = generateKeyPairSync('ed25519').privateKey;
        const tmp = join(t.dir, `.trust.json.${round}`);
        writeFileSync(tmp, trustOf(next));
        renameSync(tmp, t.file); // atomic replace: a new inode under the same name
        await waitFor(() => t.loads.length === round, {
          timeoutMs: 3000,
          message: `the reload after replace ${round}`,
        });
        expect(t.verdict(old), `round ${round}: the revoked key`).toBe('bad_signature');
        expect(t.verdict(next), `round ${round}: the new key`).toBe('accepted');
        old = next;
      }
      expect(t.loads).toEqual(Array(5).fill('file changed'));
      expect(t.errors).toEqual([]);
    },
  );

  it(
    'trust-watch - in-place rewrites and SIGHUP reload too; a bad file ' +
      'keeps the keys in force until a good one comes',
    async () => {
      const t = await setup();
      const second = generateKeyPairSync('ed25519').privateKey;
      writeFileSync(t.file, trustOf(second)); // in place: same inode
      await waitFor(() => t.loads.length === 1, { timeoutMs: 3000, message: 'the reload after a rewrite' });
      expect([t.verdict(t.first), t.verdict(second)]).toEqual(['bad_signature', 'accepted']);
      const tmp = join(t.dir, '.bad');
      writeFileSync(tmp, '{"agents": ');
      renameSync(tmp, t.file);
      await waitFor(() => t.errors.length === 1, { timeoutMs: 3000, message: 'the refusal of the bad file' });
      expect(t.errors[0]).toMatch(/trust file .*trust\.json: not JSON/);
      expect(t.verdict(second)).toBe('accepted'); // still in force
      const third = generateKeyPairSync('ed25519').privateKey;
      writeFileSync(tmp, trustOf(third));
      renameSync(tmp, t.file);
      await waitFor(() => t.loads.length === 2, { timeoutMs: 3000, message: 'the reload after the good file' });
      expect([t.verdict(second), t.verdict(third)]).toEqual(['bad_signature', 'accepted']);
      t.signals.emit('SIGHUP');
      expect(t.loads).toEqual(['file changed', 'file changed', 'SIGHUP']);
      expect(t.verdict(third)).toBe('accepted');
    },
  );
});
