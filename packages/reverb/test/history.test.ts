/**
 * readReports against a plain filter of the stored reports, on the in-memory bus (any
 * spacing of from_beat: tempo changes, gaps, rotated-out reports) and on nats-server; and
 * what a query costs in bus calls, whatever the stream holds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@backbeat/core';
import { MemoryBus, clusterNames, reportStreamConfig, subjects, type Bus } from '@backbeat/transport';
import { readReports, type ReportQuery } from '@backbeat/reverb';
import { emptyReport } from './helpers.js';
import { useNatsFixture } from '@backbeat/testing/vitest';

const enc = new TextEncoder();

/** Stores one report per bar: bar lengths `steps` (beats), from beat `start`; returns the from_beats. */
async function store(
  bus: Bus,
  cluster: string,
  start: number,
  steps: readonly number[],
  maxMsgs?: number,
): Promise<number[]> {
  await bus.ensureStream({ ...reportStreamConfig(cluster), ...(maxMsgs ? { maxMsgs } : {}) });
  const beats: number[] = [];
  let beat = start;
  for (const step of steps) {
    await bus.publishDurable(
      subjects(cluster).reportStore,
      enc.encode(JSON.stringify(emptyReport(cluster, beat, step))),
    );
    beats.push(beat);
    beat += step;
  }
  return beats;
}

/**
 * What a query must answer: the stored from_beats (oldest first) that match, at most `limit`, and whether more follow.
 */
function expected(
  stored: readonly number[],
  fromBeat: number | undefined,
  limit: number,
): { beats: number[]; more: boolean } {
  const all = fromBeat === undefined ? stored.slice(-limit) : stored.filter((b) => b >= fromBeat);
  return { beats: all.slice(0, limit), more: all.length > limit };
}

/**
 * Every page of a query, following the cursor, at most `reports + 1` pages: a query over that
 * many stored reports has no more pages than that even at limit 1, so a cursor that goes on
 * beyond it is a bug the comparison then shows (an extra page), not a hang.
 */
async function allPages(bus: Bus, cluster: string, q: ReportQuery, reports: number): Promise<number[][]> {
  const pages: number[][] = [];
  let page = await readReports(bus, cluster, q);
  pages.push(page.reports.map((r) => r.from_beat));
  for (let i = 0; page.nextCursor !== undefined && i < reports; i++) {
    page = await readReports(bus, cluster, { cursor: page.nextCursor, limit: q.limit });
    pages.push(page.reports.map((r) => r.from_beat));
  }
  return pages;
}

/** Tempo changes (bars of 1 to 64 beats in runs) and now and then a gap of missing bars (pulse down). */
const barSteps = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 3 })), {
    minLength: 1,
    maxLength: 8,
  })
  .map((runs) =>
    runs.flatMap(([bars, beats, gap]) =>
      Array.from({ length: bars }, (_, k) => (k === bars - 1 && gap > 0 ? beats * (1 + gap * 50) : beats)),
    ),
  );

describe('history - readReports on the in-memory bus', () => {
  it(
    'history - any bar spacing: each page is the stored reports ' +
      'from from_beat, the cursor pages through the rest exactly once',
    async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          barSteps,
          fc.integer({ min: 0, max: 500 }),
          fc.nat({ max: 1 }),
          fc.integer({ min: 1, max: 30 }),
          fc.double({ min: -0.1, max: 1.1, noNaN: true }),
          async (steps, start, rotate, limit, where) => {
            const bus = new MemoryBus();
            try {
              const cluster = `mem${run++}`;
              const maxMsgs = rotate ? Math.max(1, Math.floor(steps.length / 2)) : undefined;
              const stored = (await store(bus, cluster, start, steps, maxMsgs)).slice(maxMsgs ? -maxMsgs : 0);
              const lo = stored[0]!;
              const hi = stored.at(-1)!;
              const fromBeat = Math.max(0, Math.round(lo + where * (hi - lo)));
              const want = expected(stored, fromBeat, limit);
              const page = await readReports(bus, cluster, { fromBeat, limit });
              expect(page.reports.map((r) => r.from_beat)).toEqual(want.beats);
              expect(page.nextCursor !== undefined).toBe(want.more);
              expect((await allPages(bus, cluster, { fromBeat, limit }, stored.length)).flat()).toEqual(
                stored.filter((b) => b >= fromBeat),
              );
              const newest = await readReports(bus, cluster, { limit });
              expect(newest.reports.map((r) => r.from_beat)).toEqual(expected(stored, undefined, limit).beats);
              expect(newest.nextCursor).toBeUndefined();
            } finally {
              await bus.close();
            }
          },
        ),
        { numRuns: 150 },
      );
    },
  );

  it(
    'history - every from_beat over uneven bars, with pages of 1 to ' + '9: near and far misses of the interpolation',
    async () => {
      const bus = new MemoryBus();
      try {
        const steps = [
          ...Array.from({ length: 30 }, (_, k) => 1 + (k % 3)),
          ...Array.from({ length: 20 }, () => 12),
          40,
          ...Array.from({ length: 25 }, (_, k) => 2 + (k % 5)),
        ];
        const stored = await store(bus, 'every', 3, steps);
        for (let fromBeat = 0; fromBeat <= stored.at(-1)! + 1; fromBeat++) {
          for (const limit of [1, 2, 4, 5, 6, 9]) {
            const want = expected(stored, fromBeat, limit);
            const page = await readReports(bus, 'every', { fromBeat, limit });
            expect(
              page.reports.map((r) => r.from_beat),
              `from_beat ${fromBeat} limit ${limit}`,
            ).toEqual(want.beats);
            expect(page.nextCursor !== undefined, `more after from_beat ${fromBeat} limit ${limit}`).toBe(want.more);
          }
        }
      } finally {
        await bus.close();
      }
    },
  );

  it(
    'history - on evenly spaced reports a from_beat query is two ' + 'lookups and one read, for 1,000 or 20,000 stored',
    async () => {
      for (const n of [1000, 20_000]) {
        const bus = new MemoryBus();
        try {
          const cluster = `count${n}`;
          await store(
            bus,
            cluster,
            0,
            Array.from({ length: n }, () => 4),
          );
          const calls: string[] = [];
          const counted = new Proxy(bus, {
            get(target, prop, receiver) {
              const v: unknown = Reflect.get(target, prop, receiver);
              if (typeof v !== 'function') return v;
              return (...args: unknown[]) => {
                calls.push(String(prop));
                return (v as (...a: unknown[]) => unknown).apply(target, args);
              };
            },
          });
          for (const fromBeat of [0, 4, 401, 4 * (n - 150), 4 * (n - 1)]) {
            calls.length = 0;
            const page = await readReports(counted, cluster, { fromBeat, limit: 100 });
            expect(page.reports[0]?.from_beat).toBe(Math.ceil(fromBeat / 4) * 4);
            expect(page.reports.length).toBe(Math.min(100, n - Math.ceil(fromBeat / 4)));
            expect(calls.sort()).toEqual(['getStreamMsg', 'getStreamMsg', 'readStream']);
          }
          calls.length = 0;
          await readReports(counted, cluster, { cursor: '500', limit: 100 });
          expect(calls).toEqual(['readStream']);
        } finally {
          await bus.close();
        }
      }
    },
  );

  it(
    'history - a bad cursor, limit or from_beat is refused with ' + 'InvalidArgumentError; an empty or missing stream',
    async () => {
      const bus = new MemoryBus();
      try {
        await store(bus, 'bad', 0, [4, 4, 4]);
        for (const q of [
          { cursor: 'x', limit: 5 },
          { cursor: '-1', limit: 5 },
          { cursor: '1e3', limit: 5 },
          { limit: 0 },
          { limit: 1.5 },
          { fromBeat: Number.NaN, limit: 5 },
        ]) {
          await expect(readReports(bus, 'bad', q)).rejects.toBeInstanceOf(InvalidArgumentError);
        }
        expect((await readReports(bus, 'bad', { cursor: '0', limit: 2 })).reports.map((r) => r.from_beat)).toEqual([
          0, 4,
        ]);
        await bus.ensureStream(reportStreamConfig('empty'));
        expect(await readReports(bus, 'empty', { fromBeat: 0, limit: 5 })).toEqual({
          reports: [],
          nextCursor: undefined,
        });
        expect(await readReports(bus, 'empty', { limit: 5 })).toEqual({ reports: [], nextCursor: undefined });
        await expect(readReports(bus, 'none', { fromBeat: 0, limit: 5 })).rejects.toMatchObject({
          code: 'BB_ERR_JETSTREAM_NOT_FOUND',
        });
      } finally {
        await bus.close();
      }
    },
  );
});

describe('history - readReports on nats-server', () => {
  const fx = useNatsFixture();

  it(
    'history - tempo changes, a gap and rotated-out reports: pages match ' +
      'the stored reports; no reader is left behind',
    async () => {
      const cluster = 'nats-hist';
      const steps = [
        ...Array.from({ length: 150 }, () => 4),
        ...Array.from({ length: 100 }, () => 3),
        3 * 400,
        ...Array.from({ length: 150 }, () => 7),
      ];
      const stored = (await store(fx.bus, cluster, 16, steps, 350)).slice(-350);
      const queries = [
        0,
        stored[0]!,
        stored[0]! + 1,
        stored[40]!,
        stored[99]! + 2,
        stored[100]!,
        stored[101]! - 1,
        stored[299]!,
        stored.at(-1)!,
        stored.at(-1)! + 1,
      ];
      for (const fromBeat of queries) {
        for (const limit of [1, 7, 100]) {
          const want = expected(stored, fromBeat, limit);
          const page = await readReports(fx.bus, cluster, { fromBeat, limit });
          expect(
            page.reports.map((r) => r.from_beat),
            `from_beat ${fromBeat} limit ${limit}`,
          ).toEqual(want.beats);
          expect(page.nextCursor !== undefined).toBe(want.more);
        }
      }
      expect((await allPages(fx.bus, cluster, { fromBeat: stored[10]!, limit: 60 }, stored.length)).flat()).toEqual(
        stored.slice(10),
      );
      expect((await readReports(fx.bus, cluster, { limit: 3 })).reports.map((r) => r.from_beat)).toEqual(
        stored.slice(-3),
      );
      expect(await fx.bus.listConsumers(clusterNames(cluster).reportStream)).toEqual([]);
      await expect(readReports(fx.bus, 'nats-none', { fromBeat: 0, limit: 5 })).rejects.toMatchObject({
        code: 'BB_ERR_JETSTREAM_NOT_FOUND',
      });
      await expect(readReports(fx.bus, 'nats-none', { cursor: '3', limit: 5 })).rejects.toMatchObject({
        code: 'BB_ERR_JETSTREAM_NOT_FOUND',
      });
    },
  );
});
