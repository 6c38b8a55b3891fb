/**
 * Ed25519 verification for claim signatures (BACKBEAT-REQ-044). libsodium through the
 * `sodium-native` package (prebuilt binaries) when it loads: it measured about 3x node:crypto's
 * verify on one core (bench/reverb.mjs prints both); node:crypto otherwise, so reverb runs
 * on a platform without a prebuild too.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';

interface Sodium {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

function loadSodium(): Sodium | undefined {
  if (process.env.BACKBEAT_ED25519 === 'node') return undefined;
  try {
    return createRequire(import.meta.url)('sodium-native') as Sodium;
  } catch {
    return undefined;
  }
}

const sodium = loadSodium();

/** Which implementation verifies signatures in this process. */
export const ED25519_BACKEND: 'sodium-native' | 'node:crypto' = sodium ? 'sodium-native' : 'node:crypto';

/** A trusted public key, ready for either implementation. */
export interface PublicKey {
  /** The raw 32 bytes. */
  readonly raw: Uint8Array;
  readonly key: KeyObject;
}

/** A public key from its raw 32 bytes. */
export function publicKeyFromRaw(raw: Uint8Array): PublicKey {
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
  return { raw: Uint8Array.from(raw), key };
}

/** True when `signature` (64 bytes) is `key`'s signature of the exact `message` bytes. */
export function verifyEd25519(signature: Uint8Array, message: Uint8Array, key: PublicKey): boolean {
  return sodium
    ? sodium.crypto_sign_verify_detached(signature, message, key.raw)
    : cryptoVerify(null, message, key.key, signature);
}
