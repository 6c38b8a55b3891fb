/**
 * Lease KV faults for tests of the elector on the in-memory bus and a fake clock: a bucket whose
 * calls answer "no responders" (a stream-leader election), time out, or hang until healed.
 */
import type { FakeClock } from '@backbeat/core';
import { NoRespondersError, TimeoutError, type KvBucket } from '@backbeat/transport';

export type Fault = 'none' | 'no-responders' | 'timeout' | 'hang';

/** How a node's bucket fails; `hung` holds the calls that 'hang' keeps (heal() fails them). */
export interface FaultState {
  mode: Fault;
  hung: Array<() => void>;
}

export const fault = (): FaultState => ({ mode: 'none', hung: [] });
export function heal(f: FaultState): void {
  f.mode = 'none';
  for (const fail of f.hung.splice(0)) fail();
}

/**
 * A bucket whose every call fails as `f.mode` says (a timeout after `timeoutMs` of the fake
 * clock). Its watch sees nothing while the fault lasts, as a watch of a stream with no leader:
 * what it missed (the limit marker of an expiry, written once the stream has a leader again)
 * arrives after the fault, at this node's next call.
 */
export function faulty(kv: KvBucket, clock: FakeClock, f: FaultState, timeoutMs: number): KvBucket {
  const held: Array<() => void> = [];
  const gate = <T>(op: () => Promise<T>): Promise<T> => {
    if (f.mode === 'none') for (const deliver of held.splice(0)) deliver();
    if (f.mode === 'no-responders') return Promise.reject(new NoRespondersError(`$KV.${kv.name}`));
    if (f.mode === 'timeout')
      return new Promise((_, reject) =>
        clock.setTimeout(() => reject(new TimeoutError(`$KV.${kv.name}`, timeoutMs)), timeoutMs),
      );
    if (f.mode === 'hang')
      return new Promise((_, reject) => f.hung.push(() => reject(new TimeoutError(`$KV.${kv.name}`, timeoutMs))));
    return op();
  };
  return {
    name: kv.name,
    get: (k) => gate(() => kv.get(k)),
    create: (k, v) => gate(() => kv.create(k, v)),
    update: (k, v, r) => gate(() => kv.update(k, v, r)),
    put: (k, v) => gate(() => kv.put(k, v)),
    delete: (k, o) => gate(() => kv.delete(k, o)),
    watch: (k, cb) => kv.watch(k, (e) => (f.mode === 'none' ? cb(e) : held.push(() => cb(e)))),
    keys: () => kv.keys(),
    settings: () => kv.settings(),
  };
}
