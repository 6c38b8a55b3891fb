import { describe, expect, it } from 'vitest';
import { createTempoMap, FakeClock, slot } from '@backbeat/core';
import { FrameGate, HOLD_MS } from '@backbeat/sdk/internal';
import { CLUSTER, frame, setup, T0 } from './follower-setup.js';

describe('sdk gate - holding a frame until KV confirms it', () => {
  const map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });

  it('gate - a newer term waits for the lease: accepted once the lease shows it, bad_term after the hold', () => {
    const { clock, gate, fired, dropped, deliver } = setup();
    gate.setMap(map);
    gate.setLease({ state: 'held', term: 1, nodeId: 'a' });
    clock.advanceTo(slot(map, 0, 0).phaseStart + 1);
    deliver(frame(map, 0, 0), 2); // the new leader's frame before its lease reached this client
    expect(fired).toHaveLength(0);
    gate.setLease({ state: 'held', term: 2, nodeId: 'b' });
    expect(fired.map((x) => `${x.slot}:${x.source}`)).toEqual(['0.plan:leader']);
    clock.advanceTo(slot(map, 0, 1).phaseStart + 1);
    deliver(frame(map, 0, 1), 3); // a term the lease never shows
    gate.setLease({ state: 'held', term: 2, nodeId: 'b' }); // a renewal: no news for term 3
    clock.advance(HOLD_MS);
    expect(dropped).toContain('bad_term');
    // The held frame never fired.
    expect(fired.map((x) => `${x.slot}:${x.source}`)).toEqual(['0.plan:leader', '0.execute:local', '0.review:local']);
  });

  it('gate - only the newest questionable frame is held: the older one is settled at once', () => {
    const { clock, gate, dropped, deliver } = setup();
    gate.setMap(map);
    gate.setLease({ state: 'held', term: 1, nodeId: 'a' });
    clock.advanceTo(slot(map, 0, 0).phaseStart + 1);
    deliver(frame(map, 0, 0), 7);
    deliver(frame(map, 0, 0), 8);
    expect(dropped).toEqual(['bad_term']);
  });

  it('gate - a frame off the map is held while the map is re-read; the new map lets it in', () => {
    const refreshed: string[] = [];
    const clock = new FakeClock(T0 - 1);
    const gate = new FrameGate(CLUSTER, clock, { aheadMs: 50, refresh: (w) => refreshed.push(w) });
    const accepted: string[] = [];
    gate.listeners.add({
      accept: (a) => accepted.push(`${a.frame.beat_index}.${a.frame.phase}@${a.frame.tempo_bpm}`),
      drop: () => {},
      mapChanged: () => {},
      leaseChanged: () => {},
    });
    gate.setMap(map);
    const faster = {
      ...map,
      segments: [...map.segments, { startBeat: 4, startTime: slot(map, 4, 0).beatStart, tempoBpm: 132 }],
    };
    clock.advanceTo(slot(faster, 4, 0).phaseStart + 1);
    gate.offer({ frame: frame(faster, 4, 0), termHeader: '1', receivedAt: clock.now() });
    expect(accepted).toEqual([]);
    expect(refreshed).toEqual(['map']);
    gate.setMap(faster);
    expect(accepted).toEqual(['4.plan@132']);
  });
});
