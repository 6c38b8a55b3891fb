import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { publicKeyBase64 } from '@backbeat/sdk';
import { TrustStore, VerifyPool, type SignatureCheck } from '@backbeat/reverb';
import { ClaimPipeline } from '@backbeat/reverb/internal';

const enc = new TextEncoder();
const key = () => generateKeyPairSync('ed25519').privateKey;

describe('reverb - signatures checked on verify threads', () => {
  it(
    'pool - every verdict equals the check on the main thread, for good, ' +
      'forged, unsigned, malformed, unknown and retired claims',
    async () => {
      const [a, b, old, stranger] = [key(), key(), key(), key()];
      const trust = TrustStore.parse(
        JSON.stringify({
          agents: { 'agent:a': [publicKeyBase64(a)], 'agent:b': [publicKeyBase64(b), publicKeyBase64(a)] },
          retired: { 'agent:b': [publicKeyBase64(old)] },
        }),
      );
      // what the threads are given reads back the same
      expect(TrustStore.parse(JSON.stringify(trust)).toJSON()).toEqual(trust.toJSON());
      const cases: Array<[string, Uint8Array, string]> = [];
      for (let i = 0; i < 600; i++) {
        const agent = i % 3 === 0 ? 'agent:a' : i % 3 === 1 ? 'agent:b' : 'agent:nobody';
        const data = enc.encode(`{"n":${i}}`);
        const signer = [a, b, old, stranger][i % 4]!;
        let sig = sign(null, data, signer).toString('base64');
        if (i % 7 === 0) sig = 'not base64!';
        if (i % 11 === 0) sig = '';
        const payload = i % 5 === 0 ? enc.encode(`{"n":${i + 1}}`) : data; // changed after signing
        cases.push([agent, payload, sig]);
      }
      const pool = new VerifyPool(2, trust);
      try {
        const got = await Promise.all(cases.map(([agent, data, sig]) => pool.check(agent, data, sig)));
        expect(got).toEqual(cases.map(([agent, data, sig]) => trust.check(agent, data, sig)));
        const kinds = new Set(got.map((c) => (c.ok ? 'ok' : c.reason)));
        expect([...kinds].sort()).toEqual([
          'bad_signature',
          'malformed_signature',
          'ok',
          'retired_key',
          'unknown_agent',
          'unsigned',
        ]);
        expect(pool.pending).toBe(0);
        // A reloaded trust file applies to the checks after it.
        pool.setTrust(TrustStore.parse(JSON.stringify({ agents: { 'agent:a': [publicKeyBase64(stranger)] } })));
        const data = enc.encode('{"reload":1}');
        expect(await pool.check('agent:a', data, sign(null, data, a).toString('base64'))).toEqual({
          ok: false,
          reason: 'bad_signature',
        });
        expect(await pool.check('agent:a', data, sign(null, data, stranger).toString('base64'))).toEqual({
          ok: true,
          keyIndex: 0,
        });
      } finally {
        await pool.close();
      }
      // Closed: checks still answer (with the reloaded trust), on the calling thread.
      const data = enc.encode('{"closed":1}');
      expect(await pool.check('agent:a', data, sign(null, data, stranger).toString('base64'))).toEqual({
        ok: true,
        keyIndex: 0,
      });
      expect(await pool.check('agent:a', data, sign(null, data, a).toString('base64'))).toEqual({
        ok: false,
        reason: 'bad_signature',
      });
    },
  );

  it(
    'pool - threads that die are replaced, then given up on; ' + 'their claims are checked on the calling thread',
    async () => {
      const k = key();
      const trust = TrustStore.parse(JSON.stringify({ agents: { 'agent:a': [publicKeyBase64(k)] } }));
      const pool = new VerifyPool(2, trust, new URL('./fixtures/failing-verify-worker.mjs', import.meta.url));
      try {
        for (let round = 0; round < 12; round++) {
          const data = enc.encode(`{"round":${round}}`);
          const good = sign(null, data, k).toString('base64');
          const got = await Promise.all([
            pool.check('agent:a', data, good),
            pool.check('agent:a', enc.encode('{"forged":1}'), good),
          ]);
          expect(got).toEqual([
            { ok: true, keyIndex: 0 },
            { ok: false, reason: 'bad_signature' },
          ]);
        }
        expect(pool.size).toBe(0); // 8 replacements, then every claim on the calling thread
        expect(pool.pending).toBe(0);
      } finally {
        await pool.close();
      }
    },
  );

  it(
    'pipeline - claims are counted in the order given, whatever order ' +
      'their checks finish in; idle waits for the last',
    async () => {
      const resolvers: Array<(c: SignatureCheck) => void> = [];
      const applied: string[] = [];
      const errors: unknown[] = [];
      const p = new ClaimPipeline<{ id: string; signed: boolean }>({
        toCheck: (x) => (x.signed ? { agent: x.id, payload: new Uint8Array(), signature: 's' } : undefined),
        check: () => new Promise((r) => resolvers.push(r)),
        apply: (x, check) => {
          if (x.id === 'boom') throw new Error('listener failed');
          applied.push(`${x.id}:${check ? (check.ok ? 'ok' : check.reason) : '-'}`);
        },
        onError: (err) => errors.push(err),
      });
      p.submit({ id: 'u0', signed: false }); // nothing waits: counted at once
      expect(applied).toEqual(['u0:-']);
      p.submit({ id: 's1', signed: true });
      p.submit({ id: 'u2', signed: false }); // waits behind s1
      p.submit({ id: 's3', signed: true });
      p.submit({ id: 'boom', signed: false });
      p.submit({ id: 's5', signed: true });
      let idle = false;
      void p.idle().then(() => (idle = true));
      expect(p.pending).toBe(5);
      resolvers[2]!({ ok: true, keyIndex: 0 }); // s5 first
      resolvers[1]!({ ok: false, reason: 'bad_signature' }); // then s3
      await Promise.resolve();
      expect(applied).toEqual(['u0:-']); // s1 still pending: nothing after it counts
      resolvers[0]!({ ok: true, keyIndex: 1 });
      await new Promise((r) => setImmediate(r));
      expect(applied).toEqual(['u0:-', 's1:ok', 'u2:-', 's3:bad_signature', 's5:ok']);
      expect(errors.map((e) => (e as Error).message)).toEqual(['listener failed']);
      expect(idle).toBe(true);
      expect(p.pending).toBe(0);
    },
  );
});
