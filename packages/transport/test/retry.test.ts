import { describe, expect, it } from 'vitest';
import { FakeClock, InvalidArgumentError } from '@backbeat/core';
import { NoRespondersError, retryTransient, TimeoutError, TransportError } from '@backbeat/transport';
import { isTransientError } from '@backbeat/transport/internal';

/** Lets pending promise callbacks run, then moves the fake clock. */
async function advance(clock: FakeClock, ms: number): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
  clock.advance(ms);
}

describe('retry - transient set-up errors', () => {
  it('retry - a stream electing a leader (no responders, timeouts) is waited out; the value comes back', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const p = retryTransient(
      async () => {
        calls++;
        if (calls === 1) throw new NoRespondersError('$JS.API.STREAM.CREATE.S');
        if (calls === 2) throw new TimeoutError('$JS.API.STREAM.CREATE.S', 5000);
        return 'ok';
      },
      { what: 'creating S', clock },
    );
    for (let i = 0; i < 10 && calls < 3; i++) await advance(clock, 500);
    await expect(p).resolves.toBe('ok');
    expect(calls).toBe(3);
  });

  it('retry - any other error is thrown at once, and a transient one after the time allowed', async () => {
    const clock = new FakeClock();
    const bad = new InvalidArgumentError('replicas', 'must be from 1 to 5');
    await expect(retryTransient(async () => Promise.reject(bad), { what: 'x', clock })).rejects.toBe(bad);
    let calls = 0;
    const p = retryTransient(
      async () => {
        calls++;
        throw new TimeoutError('s', 5000);
      },
      { what: 'y', clock, forMs: 2000 },
    );
    const done = p.catch((e: unknown) => e);
    for (let i = 0; i < 20; i++) await advance(clock, 500);
    expect(await done).toBeInstanceOf(TimeoutError);
    expect(calls).toBeGreaterThan(1);
    expect(isTransientError(bad)).toBe(false);
  });

  it('retry - a create refused for a peer offline is retried; one for a count the cluster cannot hold is not', () => {
    const offline = new TransportError("open KV bucket 'b'", 'no suitable peers for placement, peer offline');
    const tooMany = new TransportError("open KV bucket 'b'", 'insufficient resources');
    expect(isTransientError(offline)).toBe(true);
    expect(isTransientError(tooMany)).toBe(false);
  });
});
