/**
 * The fresh-cluster row of the chaos suite: three nats-servers just started, then two pulses
 * and two reverbs spawned at the same instant (as an orchestrator starts a deployment). What an
 * operator waits for, measured from the moment the services were spawned:
 *   - the first frame on the wire (bound: lease TTL + 1 s);
 *   - each reverb's `/ready` answering 200 (bound: 3 s);
 *   - from then on, every bar's report within one beat of the downbeat that closes the bar.
 * A raw recorder connects before the services start, so nothing is missed.
 */
import { decodeJson, subjects } from '@backbeat/transport';
import { waitFor } from '@backbeat/testing';
import { startFleet, DEFAULTS } from './fleet.mjs';

const READY_BOUND_MS = 3000;

/**
 * Runs the start and `bars` bars after it; returns the row.
 * @param {{ log: (line: string) => void, bars?: number }} o
 */
export async function freshStart(o) {
  const bpm = 120;
  const bar = 4;
  const beatMs = 60_000 / bpm;
  const frames = [];
  const reports = [];
  /** @type {Map<string, number>} */
  const readyAt = new Map();
  let fleet;
  const settings = { clusterId: 'fresh', bpm, bar, agents: 0 };
  try {
    fleet = await startFleet({
      ...settings,
      log: o.log,
      concurrent: true,
      // The runner's bus is up before any service: it hears the very first frame.
      beforeServices: (f) => {
        const s = subjects(settings.clusterId);
        f.bus.subscribe(s.beat, (m) => {
          const frame = decodeJson(m.data);
          frames.push({ beat: frame.beat_index, phase: frame.phase, downbeat: frame.downbeat, at: Date.now() });
        });
        f.bus.subscribe(s.reverb, (m) => {
          const r = decodeJson(m.data);
          if (r.type === 'backbeat.barreport.v1') reports.push({ fromBeat: r.from_beat, at: Date.now() });
        });
      },
    });
    const t0 = fleet.startedAt;
    const pollReady = async (id) => {
      const url = `http://127.0.0.1:${fleet.httpPorts.get(id)}/ready`;
      await waitFor(
        () =>
          fetch(url).then(
            (r) => r.status === 200,
            () => false,
          ),
        { timeoutMs: 30_000, intervalMs: 50, message: `${id} /ready` },
      );
      readyAt.set(id, Date.now() - t0);
    };
    await Promise.all([
      waitFor(() => frames.length > 0, { timeoutMs: 30_000, intervalMs: 10, message: 'the first frame' }),
      pollReady('r1'),
      pollReady('r2'),
    ]);
    const firstFrameMs = frames[0].at - t0;
    const ready = Math.max(...readyAt.values());
    // Bars whose closing downbeat comes after both reverbs are ready must each be reported within a beat.
    const watchBars = o.bars ?? 4;
    const startBeat = frames.at(-1).beat;
    await waitFor(() => frames.some((f) => f.beat >= startBeat + (watchBars + 1) * bar && f.phase === 'execute'), {
      timeoutMs: 60_000,
      intervalMs: 50,
      message: `${watchBars} more bars`,
    });
    const downbeats = frames.filter((f) => f.downbeat && f.phase === 'plan' && f.at - t0 > ready);
    const late = [];
    let checked = 0;
    for (const d of downbeats.slice(0, watchBars)) {
      const from = d.beat - bar;
      if (from < 0) continue;
      checked++;
      const rep = reports.find((r) => r.fromBeat === from);
      if (!rep || rep.at - d.at > beatMs) late.push({ fromBeat: from, afterMs: rep ? rep.at - d.at : null });
    }
    const ok =
      firstFrameMs <= DEFAULTS.leaseTtlMs + 1000 && ready <= READY_BOUND_MS && late.length === 0 && checked > 0;
    return {
      fault: 'fresh cluster concurrent start',
      firstFrameMs,
      firstFrameBoundMs: DEFAULTS.leaseTtlMs + 1000,
      readyMs: Object.fromEntries(readyAt),
      readyBoundMs: READY_BOUND_MS,
      barsChecked: checked,
      reportsLate: late,
      ok,
    };
  } finally {
    await fleet?.stop();
  }
}

/** One line per figure of the row. */
export function formatFreshStart(r) {
  const ready = Object.entries(r.readyMs)
    .map(([id, ms]) => `${id} ${ms} ms`)
    .join(', ');
  return [
    `${r.fault}: ${r.ok ? 'ok' : 'NOT ok'}`,
    `  first frame ${r.firstFrameMs} ms after the services were spawned (bound ${r.firstFrameBoundMs})`,
    `  /ready: ${ready} (bound ${r.readyBoundMs})`,
    `  bars after both were ready: ${r.barsChecked}, reports later than one beat or missing: ` +
      (r.reportsLate.length === 0 ? 'none' : JSON.stringify(r.reportsLate)),
  ].join('\n');
}
