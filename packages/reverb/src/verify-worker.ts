/**
 * A signature-checking thread of the {@link VerifyPool}: it holds the trust store and checks
 * batches of claims (agent, exact payload bytes, base64 signature), nothing else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TrustStore, type SignatureCheck } from './trust.js';
import type { VerifyBatch, VerifyCommand, VerifyInit } from './verify-pool.js';

const port = parentPort!;
let trust = TrustStore.parse((workerData as VerifyInit).trust);

function check(b: VerifyBatch): SignatureCheck[] {
  const bytes = new Uint8Array(b.bytes);
  const out: SignatureCheck[] = [];
  for (let i = 0; i < b.agents.length; i++) {
    out.push(trust.check(b.agents[i]!, bytes.subarray(b.offsets[i]!, b.offsets[i + 1]!), b.signatures[i]));
  }
  return out;
}

port.on('message', (c: VerifyCommand) => {
  if (c.type === 'trust') trust = TrustStore.parse(c.trust);
  else port.postMessage({ id: c.batch.id, results: check(c.batch) });
});
