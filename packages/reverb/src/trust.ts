/**
 * The trust file (SPEC 10): which Ed25519 public keys each agent may sign with. Several keys
 * per agent make rotation possible. Format:
 *   {"agents": {"agent:worker-1": ["<base64 of the raw 32-byte public key>", ...]}}
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TrustFileError } from './errors.js';

/** Outcome of checking a claim's signature. */
export type SignatureCheck =
  | { readonly ok: true; readonly keyIndex: number }
  | { readonly ok: false; readonly reason: 'unsigned' | 'unknown_agent' | 'malformed_signature' | 'bad_signature' };

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Public keys by agent id. */
export class TrustStore {
  readonly #keys: ReadonlyMap<string, readonly KeyObject[]>;

  constructor(keys: ReadonlyMap<string, readonly KeyObject[]> = new Map()) {
    this.#keys = keys;
  }

  /** Agents known. */
  get size(): number {
    return this.#keys.size;
  }

  has(agentId: string): boolean {
    return this.#keys.has(agentId);
  }

  /**
   * Parses the trust file's JSON.
   * @throws TrustFileError naming the agent and key at fault
   */
  static parse(json: string, file = '<trust>'): TrustStore {
    let doc: unknown;
    try {
      doc = JSON.parse(json);
    } catch (err) {
      throw new TrustFileError(file, `not JSON: ${(err as Error).message}`);
    }
    const agents = (doc as { agents?: unknown })?.agents;
    if (typeof agents !== 'object' || agents === null || Array.isArray(agents)) throw new TrustFileError(file, "must be {\"agents\": {\"<agent_id>\": [\"<base64 key>\", ...]}}");
    const keys = new Map<string, KeyObject[]>();
    for (const [agentId, list] of Object.entries(agents)) {
      if (!Array.isArray(list) || list.length === 0) throw new TrustFileError(file, `agents["${agentId}"] must be a non-empty array of keys`);
      keys.set(
        agentId,
        list.map((k, i) => {
          const raw = typeof k === 'string' && B64.test(k) ? Buffer.from(k, 'base64') : undefined;
          if (!raw || raw.length !== 32) throw new TrustFileError(file, `agents["${agentId}"][${i}] is not base64 of a raw 32-byte Ed25519 public key`);
          return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
        }),
      );
    }
    return new TrustStore(keys);
  }

  /** Reads and parses a trust file. @throws TrustFileError */
  static load(file: string): TrustStore {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new TrustFileError(file, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message, { cause: err });
    }
    return TrustStore.parse(text, file);
  }

  /** Checks `signature` (base64 of 64 bytes) over the exact `payload` bytes. */
  check(agentId: string, payload: Uint8Array, signature: string | undefined): SignatureCheck {
    if (signature === undefined || signature === '') return { ok: false, reason: 'unsigned' };
    const keys = this.#keys.get(agentId);
    if (!keys) return { ok: false, reason: 'unknown_agent' };
    if (!B64.test(signature)) return { ok: false, reason: 'malformed_signature' };
    const sig = Buffer.from(signature, 'base64');
    if (sig.length !== 64) return { ok: false, reason: 'malformed_signature' };
    for (let i = 0; i < keys.length; i++) {
      if (verify(null, payload, keys[i]!, sig)) return { ok: true, keyIndex: i };
    }
    return { ok: false, reason: 'bad_signature' };
  }
}
