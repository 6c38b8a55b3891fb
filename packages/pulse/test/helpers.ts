import { parseBeatFrame, type BeatFrame } from '@backbeat/contracts';
import { subjects, type Bus } from '@backbeat/transport';

/** A frame as a test observer saw it. */
export interface SeenFrame {
  readonly frame: BeatFrame;
  readonly term: number;
  readonly at: number;
}

/** Collects every BeatFrame of a cluster, checking each against INT-A. */
export function collectFrames(bus: Bus, clusterId: string): { frames: SeenFrame[]; invalid: string[]; stop(): void } {
  const frames: SeenFrame[] = [];
  const invalid: string[] = [];
  parseBeatFrame('{}'); // compiles the validator now, not when the first frame arrives (it can take a second)
  const sub = bus.subscribe(subjects(clusterId).beat, (m) => {
    const r = parseBeatFrame(m.data);
    if (!r.ok) invalid.push(r.error.message);
    else
      frames.push({
        frame: r.message,
        term: Number(m.headers['Backbeat-Term']),
        at: performance.timeOrigin + performance.now(),
      });
  });
  return { frames, invalid, stop: () => sub.unsubscribe() };
}

/** Slot number of a frame: beat * phases + phase index. */
export function slotNo(f: BeatFrame): number {
  return f.beat_index * 3 + ['plan', 'execute', 'review'].indexOf(f.phase);
}

/**
 * Asserts the wire invariants (docs/spec.md §5 The beat grid and the tempo map): slots strictly
 * increase, none repeats. Returns problems.
 */
export function gridProblems(frames: readonly SeenFrame[]): string[] {
  const out: string[] = [];
  for (let i = 1; i < frames.length; i++) {
    const a = slotNo(frames[i - 1]!.frame);
    const b = slotNo(frames[i]!.frame);
    if (b <= a)
      out.push(
        `slot ${b} (beat ${frames[i]!.frame.beat_index} ` +
          `${frames[i]!.frame.phase}, term ${frames[i]!.term}) after slot ${a}`,
      );
  }
  return out;
}

/** Frames (in arrival order) of a term older than one that arrived before them: "older term after newer". */
export function olderAfterNewer(frames: readonly SeenFrame[]): string[] {
  const out: string[] = [];
  let newest = 0;
  for (const f of frames) {
    if (f.term < newest) out.push(`term ${f.term} beat ${f.frame.beat_index} ${f.frame.phase} after term ${newest}`);
    newest = Math.max(newest, f.term);
  }
  return out;
}
