/**
 * Ed25519 signing of status claims (BACKBEAT-REQ-044, docs/spec.md §10 Security): the signature
 * covers the exact payload bytes sent, and travels as standard padded base64 of the raw 64 bytes.
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { InvalidArgumentError } from '@backbeat/core';

// PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows it.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A private KeyObject from a KeyObject or a 32-byte seed.
 * @throws InvalidArgumentError for anything else
 */
export function toSigningKey(key: KeyObject | Uint8Array): KeyObject {
  if (key instanceof Uint8Array) {
    if (key.length !== 32)
      throw new InvalidArgumentError('signingKey', `an Ed25519 seed must be 32 bytes, got ${key.length}`);
    return createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(key)]),
      format: 'der',
      type: 'pkcs8',
    });
  }
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') {
    throw new InvalidArgumentError('signingKey', 'must be an Ed25519 private key (KeyObject) or its 32-byte seed');
  }
  return key;
}

/** Signs `payload`; returns base64 of the 64-byte signature. */
export function signPayload(key: KeyObject, payload: Uint8Array): string {
  return sign(null, payload, key).toString('base64');
}

/** The raw 32-byte public key of a private key, base64 (the trust file's format). */
export function publicKeyBase64(key: KeyObject): string {
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32).toString('base64');
}
