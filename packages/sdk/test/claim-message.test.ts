import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { windowIdForBeat } from '@backbeat/core';
import { AGENT_ID_HEADER, HLC_HEADER, SIGNATURE_HEADER, WINDOW_ID_HEADER } from '@backbeat/contracts';
import { CLAIM_MAX_BYTES } from '@backbeat/transport';
import { ClaimInvalidError, ClaimTooLargeError, toSigningKey } from '@backbeat/sdk';
import { claimMessage, type ClaimContext } from '@backbeat/sdk/internal';

// A claim as it goes on the wire (docs/spec.md §10 Security), built without a bus.
const ctx: ClaimContext = {
  agentId: 'agent:m1',
  clusterId: 'c1',
  beatIndex: 9,
  hlc: '7ffd:0001:abcd',
  barLength: 4,
  logger: { warn: () => {} },
};

describe('sdk claim message - the claim, its payload and headers (no I/O)', () => {
  it('claim message - INT-B claim, its JSON as the payload, the window of its bar, a random 128-bit id', () => {
    const a = claimMessage({ state: 'executing', progress: 0.5, taskId: 'task:1' }, ctx);
    expect(a.claim).toMatchObject({
      agent_id: 'agent:m1',
      beat_index: 9,
      state: 'executing',
      hlc: ctx.hlc,
      progress: 0.5,
    });
    expect(new TextDecoder().decode(a.payload)).toBe(JSON.stringify(a.claim));
    expect(a.headers).toEqual({
      [AGENT_ID_HEADER]: 'agent:m1',
      [WINDOW_ID_HEADER]: windowIdForBeat('c1', 9, 4),
      [HLC_HEADER]: ctx.hlc,
    });
    expect(a.msgId).toMatch(/^[0-9a-f]{32}$/);
    expect(claimMessage({ state: 'executing', taskId: 'task:1' }, ctx).msgId).not.toBe(a.msgId);
  });

  it('claim message - signed: x-signature is Ed25519 over exactly the payload bytes', () => {
    const key = toSigningKey(new Uint8Array(32).fill(7));
    const m = claimMessage({ state: 'idle' }, { ...ctx, signingKey: key });
    const sig = Buffer.from(m.headers[SIGNATURE_HEADER]!, 'base64');
    expect(verify(null, m.payload, createPublicKey(key), sig)).toBe(true);
  });

  it('claim message - a deprecated alias becomes its INT-B state', () => {
    expect(claimMessage({ state: 'review' }, ctx).claim.state).toBe('reviewing');
  });

  it('claim message - bad input throws ClaimInvalidError; a payload over 64 KiB ClaimTooLargeError', () => {
    expect(() => claimMessage({ state: 'executing', progress: 2 }, ctx)).toThrow(ClaimInvalidError);
    // Valid INT-B (64 items of 512 characters), but each control character takes 6 bytes in JSON.
    const waitFor = Array.from({ length: 64 }, () => '\u0001'.repeat(512));
    expect(() => claimMessage({ state: 'waiting', waitFor }, ctx)).toThrow(ClaimTooLargeError);
    expect(CLAIM_MAX_BYTES).toBe(64 * 1024);
  });
});
