import { describe, expect, it } from 'vitest';
import type { DashboardBeat, DashboardCluster, DashboardSource } from '../src/index.js';
import { UpdateHub } from '../src/hub.js';

/** A source whose events the test fires by hand. */
function handSource() {
  const beats = new Set<(b: DashboardBeat) => void>();
  const source: DashboardSource = {
    clusterId: 'c',
    onBeat: (cb) => (beats.add(cb), () => beats.delete(cb)),
    onReport: () => () => {},
    onBarChange: () => () => {},
    onDeadLetter: () => () => {},
    currentBar: () => null,
    recent: () => ({ beat: null, delivery: [], jitter: [] }),
    recentReports: async () => [],
    recentDeadLetters: async () => [],
    cluster: async () => ({ cluster_id: 'c' }) as unknown as DashboardCluster,
    changeTempo: async () => ({ status: 501, body: {} }),
  };
  const beat = (i: number, phase = 'execute') =>
    ({
      beat_index: i,
      phase,
      phases: ['plan', 'execute', 'review'],
      bar_length: 4,
      downbeat: false,
      tempo_bpm: 60,
      window_id: 'w',
      source: 'leader',
      delivery_ms: 1,
      jitter_ms: 0,
    }) as DashboardBeat;
  return {
    source,
    fire: (i: number, phase?: string) => beats.forEach((b) => b(beat(i, phase))),
    listeners: () => beats.size,
  };
}

describe('dashboard hub - live updates for the long-poll', () => {
  it('hub - a poll returns the events after its sequence, in order', async () => {
    const s = handSource();
    const hub = new UpdateHub(s.source);
    s.fire(1);
    s.fire(2);
    const a = await hub.poll(0, 1000);
    expect(a.reset).toBe(false);
    expect(a.events.map((e) => [e.seq, e.event, (JSON.parse(e.json) as DashboardBeat).beat_index])).toEqual([
      [1, 'beat', 1],
      [2, 'beat', 2],
    ]);
    s.fire(3);
    expect((await hub.poll(a.seq, 1000)).events.map((e) => e.seq)).toEqual([3]);
    hub.close();
  });

  it('hub - a poll with nothing new answers at the first event, or empty after its hold', async () => {
    const s = handSource();
    const hub = new UpdateHub(s.source);
    const waiting = hub.poll(0, 60_000);
    s.fire(7);
    expect((await waiting).events.map((e) => (JSON.parse(e.json) as DashboardBeat).beat_index)).toEqual([7]);
    const empty = await hub.poll(hub.seq, 10);
    expect(empty).toEqual({ seq: 1, events: [], reset: false, more: false });
    hub.close();
  });

  it('hub - a sequence from another run of the server, or one fallen out of the buffer, asks for a reset', async () => {
    const s = handSource();
    const hub = new UpdateHub(s.source);
    s.fire(1);
    expect((await hub.poll(99, 10)).reset).toBe(true);
    for (let i = 0; i < 600; i++) s.fire(i);
    expect((await hub.poll(5, 10)).reset).toBe(true);
    expect((await hub.poll(0, 10, 1024 * 1024)).events).toHaveLength(512);
    hub.close();
    expect(s.listeners()).toBe(0);
  });

  it('hub - close answers every waiting poll at once', async () => {
    const s = handSource();
    const hub = new UpdateHub(s.source);
    const waiting = hub.poll(0, 60_000);
    hub.close();
    expect((await waiting).events).toEqual([]);
  });
});
