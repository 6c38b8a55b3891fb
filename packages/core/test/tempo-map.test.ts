import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyTempoChange,
  beatDurationMs,
  checkTempoMap,
  createTempoMap,
  InvalidArgumentError,
  pruneTempoMap,
  tempoAt,
  tempoMapFromJson,
  tempoMapToJson,
  timeOf,
} from '@backbeat/core';
import { arbMap } from './arbitraries.js';

const T0 = 1_700_000_000_000;

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidArgumentError) return err.context.field;
    throw err;
  }
  return undefined;
}

describe('tempo map - creation', () => {
  it('tempo map - defaults: bars of 8, phases plan, execute, review, beat 0 first', () => {
    const map = createTempoMap({ startTime: T0, tempoBpm: 12 });
    expect(map).toEqual({
      segments: [{ startBeat: 0, startTime: T0, tempoBpm: 12 }],
      barLength: 8,
      phases: ['plan', 'execute', 'review'],
    });
    expect(Object.isFrozen(map) && Object.isFrozen(map.segments) && Object.isFrozen(map.segments[0])).toBe(true);
    expect(beatDurationMs(12)).toBe(5000);
  });

  it('tempo map - accepts the contract range 0.1 to 1000 BPM and bars of 1 to 10000', () => {
    expect(createTempoMap({ startTime: T0, tempoBpm: 0.1, barLength: 1 }).segments[0]!.tempoBpm).toBe(0.1);
    expect(createTempoMap({ startTime: T0, tempoBpm: 1000, barLength: 10_000 }).barLength).toBe(10_000);
  });

  it('tempo map - rejects out-of-contract values, naming the field', () => {
    expect(fieldOf(() => createTempoMap({ startTime: T0, tempoBpm: 0.09 }))).toBe('segments[0].tempoBpm');
    expect(fieldOf(() => createTempoMap({ startTime: T0, tempoBpm: 1000.1 }))).toBe('segments[0].tempoBpm');
    expect(fieldOf(() => createTempoMap({ startTime: T0, tempoBpm: Number.NaN }))).toBe('segments[0].tempoBpm');
    expect(fieldOf(() => createTempoMap({ startTime: Number.NaN, tempoBpm: 12 }))).toBe('segments[0].startTime');
    expect(fieldOf(() => createTempoMap({ startTime: T0, tempoBpm: 12, startBeat: -1 }))).toBe('segments[0].startBeat');
    expect(fieldOf(() => createTempoMap({ startTime: T0, tempoBpm: 12, barLength: 0 }))).toBe('barLength');
    expect(fieldOf(() => createTempoMap({ startTime: T0, tempoBpm: 12, barLength: 10_001 }))).toBe('barLength');
    expect(fieldOf(() => createTempoMap({ startTime: T0, tempoBpm: 12, barLength: 2.5 }))).toBe('barLength');
  });

  it('tempo map - phases are a non-empty, ordered, unique subset of plan, execute, review', () => {
    for (const phases of [[], ['review', 'plan'], ['plan', 'plan'], ['work']]) {
      expect(
        fieldOf(() => createTempoMap({ startTime: T0, tempoBpm: 12, phases })),
        phases.join(),
      ).toBe('phases');
    }
    expect(createTempoMap({ startTime: T0, tempoBpm: 12, phases: ['plan', 'review'] }).phases).toEqual([
      'plan',
      'review',
    ]);
  });
});

describe('tempo map - storage', () => {
  it('tempo map - JSON round-trips exactly', () => {
    fc.assert(
      fc.property(arbMap, (map) => {
        const back = tempoMapFromJson(tempoMapToJson(map));
        expect(back).toEqual(map);
        for (let b = map.segments[0]!.startBeat; b < map.segments.at(-1)!.startBeat + 10; b += 7)
          expect(timeOf(back, b, 1)).toBe(timeOf(map, b, 1));
      }),
    );
  });

  it('tempo map - rejects malformed JSON and maps whose grid would run backwards', () => {
    expect(fieldOf(() => tempoMapFromJson('{"segments": ['))).toBe('tempoMap');
    expect(fieldOf(() => checkTempoMap(null))).toBe('tempoMap');
    expect(fieldOf(() => checkTempoMap({ barLength: 8, phases: ['plan'], segments: [] }))).toBe('segments');
    expect(fieldOf(() => checkTempoMap({ barLength: 8, phases: ['plan'], segments: [42] }))).toBe('segments[0]');
    const base = { barLength: 8, phases: ['plan', 'execute', 'review'] };
    const seg0 = { startBeat: 0, startTime: T0, tempoBpm: 12 };
    // Beat 8 of the first segment starts at T0 + 40 s; its last phase before it at T0 + 38333.3.
    expect(
      fieldOf(() => checkTempoMap({ ...base, segments: [seg0, { startBeat: 0, startTime: T0 + 1, tempoBpm: 12 }] })),
    ).toBe('segments[1].startBeat');
    expect(
      fieldOf(() =>
        checkTempoMap({ ...base, segments: [seg0, { startBeat: 8, startTime: T0 + 38_000, tempoBpm: 12 }] }),
      ),
    ).toBe('segments[1].startTime');
    expect(
      checkTempoMap({ ...base, segments: [seg0, { startBeat: 8, startTime: T0 + 40_000, tempoBpm: 13 }] }).segments,
    ).toHaveLength(2);
  });

  it('tempo map - ignores unknown fields written by a newer node', () => {
    const map = checkTempoMap({
      ...JSON.parse(tempoMapToJson(createTempoMap({ startTime: T0, tempoBpm: 12 }))),
      version: 2,
    });
    expect(Object.keys(map).sort()).toEqual(['barLength', 'phases', 'segments']);
  });
});

describe('tempo map - pruning', () => {
  it('tempo map - pruning keeps every time at or after its instant', () => {
    let map = createTempoMap({ startTime: T0, tempoBpm: 12, barLength: 8 });
    map = applyTempoChange(map, 13, T0 + 1000).map; // at beat 8
    map = applyTempoChange(map, 14, T0 + 50_000).map; // at beat 16
    const cut = timeOf(map, 17, 0);
    const pruned = pruneTempoMap(map, cut);
    expect(pruned.segments).toEqual([map.segments[2]]);
    for (let beat = 17; beat < 40; beat++) expect(timeOf(pruned, beat, 1)).toBe(timeOf(map, beat, 1));
    expect(tempoAt(pruned, cut)).toBe(14);
    expect(pruneTempoMap(map, T0)).toBe(map);
  });
});
