/**
 * The trust file (docs/spec.md §10 Security): which Ed25519 public keys each agent may sign with. Several keys
 * per agent make rotation possible; keys listed under `retired` are refused and make the
 * bar's `secret_rotations_ok` false (a rotation that did not reach the agent). Format:
 *   {"agents": {"agent:worker-1": ["<base64 of the raw 32-byte public key>", ...]},
 *    "retired": {"agent:worker-1": ["<base64 key no longer valid>"]}}   (retired: optional)
 */
import { readFileSync } from 'node:fs';
import { publicKeyFromRaw, verifyEd25519, type PublicKey } from './ed25519.js';
import { TrustFileError } from './errors.js';

/** Outcome of checking a claim's signature. */
export type SignatureCheck =
  | { readonly ok: true; readonly keyIndex: number }
  | {
      readonly ok: false;
      readonly reason: 'unsigned' | 'unknown_agent' | 'malformed_signature' | 'bad_signature' | 'retired_key';
    };

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Public keys by agent id. */
export class TrustStore {
  readonly #keys: ReadonlyMap<string, readonly PublicKey[]>;
  readonly #retired: ReadonlyMap<string, readonly PublicKey[]>;

  /** Keys by agent id; `retired`: keys an agent used before and may no longer sign with. */
  constructor(
    keys: ReadonlyMap<string, readonly PublicKey[]> = new Map(),
    retired: ReadonlyMap<string, readonly PublicKey[]> = new Map(),
  ) {
    this.#keys = keys;
    this.#retired = retired;
  }

  /** Agents known. */
  get size(): number {
    return this.#keys.size;
  }

  /** True when the agent is listed (with current keys). */
  has(agentId: string): boolean {
    return this.#keys.has(agentId);
  }

  /** True when the agent is listed with current or retired keys: its claims are always verified. */
  knows(agentId: string): boolean {
    return this.#keys.has(agentId) || this.#retired.has(agentId);
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
    if (!isRecord(agents)) throw new TrustFileError(file, 'must be {"agents": {"<agent_id>": ["<base64 key>", ...]}}');
    const retired = (doc as { retired?: unknown }).retired;
    if (retired !== undefined && !isRecord(retired))
      throw new TrustFileError(file, 'retired must be {"<agent_id>": ["<base64 key>", ...]}');
    const keys = parseKeys(file, 'agents', agents);
    const old = parseKeys(file, 'retired', retired ?? {});
    return new TrustStore(keys, old);
  }

  /** The trust file's form of this store: what {@link TrustStore.parse} reads back. */
  toJSON(): { agents: Record<string, string[]>; retired: Record<string, string[]> } {
    const out = (m: ReadonlyMap<string, readonly PublicKey[]>) =>
      Object.fromEntries(
        [...m].map(([agent, keys]) => [agent, keys.map((k) => Buffer.from(k.raw).toString('base64'))]),
      );
    return { agents: out(this.#keys), retired: out(this.#retired) };
  }

  /** Reads and parses a trust file. @throws TrustFileError */
  static load(file: string): TrustStore {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new TrustFileError(
        file,
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message,
        { cause: err },
      );
    }
    return TrustStore.parse(text, file);
  }

  /** Checks `signature` (base64 of 64 bytes) over the exact `payload` bytes. */
  check(agentId: string, payload: Uint8Array, signature: string | undefined): SignatureCheck {
    if (signature === undefined || signature === '') return { ok: false, reason: 'unsigned' };
    const keys = this.#keys.get(agentId) ?? [];
    if (keys.length === 0 && !this.#retired.has(agentId)) return { ok: false, reason: 'unknown_agent' };
    if (!B64.test(signature)) return { ok: false, reason: 'malformed_signature' };
    const sig = Buffer.from(signature, 'base64');
    if (sig.length !== 64) return { ok: false, reason: 'malformed_signature' };
    for (let i = 0; i < keys.length; i++) {
      if (verifyEd25519(sig, payload, keys[i]!)) return { ok: true, keyIndex: i };
    }
    for (const k of this.#retired.get(agentId) ?? [])
      if (verifyEd25519(sig, payload, k)) return { ok: false, reason: 'retired_key' };
    return { ok: false, reason: 'bad_signature' };
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `section` of the trust file: agent id to a non-empty array of base64 raw Ed25519 keys. */
function parseKeys(file: string, section: string, agents: Record<string, unknown>): Map<string, PublicKey[]> {
  const keys = new Map<string, PublicKey[]>();
  for (const [agentId, list] of Object.entries(agents)) {
    if (!Array.isArray(list) || list.length === 0)
      throw new TrustFileError(file, `${section}["${agentId}"] must be a non-empty array of keys`);
    keys.set(
      agentId,
      list.map((k, i) => {
        const raw = typeof k === 'string' && B64.test(k) ? Buffer.from(k, 'base64') : undefined;
        if (!raw || raw.length !== 32)
          throw new TrustFileError(
            file,
            `${section}["${agentId}"][${i}] is not base64 of a raw 32-byte Ed25519 public key`,
          );
        return publicKeyFromRaw(raw);
      }),
    );
  }
  return keys;
}
