/**
 * What the chaos suite measures, and how. Three wire recorders (plain NatsBus subscribers on
 * backbeat.C.beat and backbeat.C.reverb, each pinned to one NATS node, so a recorder on a
 * killed node does not hide frames the others saw), SDK clients that record every (beat,
 * phase) slot they fire and send one claim per beat, and the status stream read back at the
 * end (a stored claim is an acknowledged one). `measure()` turns that into one table row per
 * fault.
 */
import { createClient } from '@backbeat/sdk';
import { decodeJson, NatsBus, statusStreamConfig, subjects } from '@backbeat/transport';

const PHASES = ['plan', 'execute', 'review'];
const slotOf = (beat, phase) => beat * PHASES.length + PHASES.indexOf(phase);

/** One recorder: frames and reports as one connection saw them. */
class Recorder {
  constructor(bus) {
    this.bus = bus;
    /** @type {{ slot: number, beat: number, phase: string, window: string, downbeat: boolean, at: number }[]} */
    this.frames = [];
    /** @type {{ window: string, fromBeat: number, agents: number, claims: number, late: number, at: number }[]} */
    this.reports = [];
  }
}

/**
 * What a recorder keeps of a message on the reverb subject: the bar report's window, first beat,
 * agents, claims counted and late claims, with its arrival time; null for anything else.
 * @param {Uint8Array} data
 * @throws when the message is not JSON
 */
export function reportSeen(data) {
  const rep = decodeJson(data);
  if (rep.type !== 'backbeat.barreport.v1') return null;
  return {
    window: rep.window_id,
    fromBeat: rep.from_beat,
    agents: rep.agents_reporting,
    claims: rep.performance?.claims_processed ?? -1,
    late: rep.late_claims ?? 0,
    at: Date.now(),
  };
}

/**
 * The claims the status stream of `clusterId` holds: a Map of window id -> count, with
 * `duplicates` (window -> claims stored twice: the same agent and HLC under two sequences, a
 * retry the de-duplication missed) and `all` (every claim: agent, window, store time).
 */
export async function storedClaims(bus, clusterId) {
  const msgs = await bus.readStream({ stream: statusStreamConfig(clusterId).name, limit: 1_000_000 });
  const perWindow = new Map();
  const seen = new Set();
  perWindow.duplicates = new Map();
  perWindow.all = msgs.map((m) => ({
    agent: m.headers['x-agent-id'],
    window: m.headers['x-window-id'] ?? '',
    time: m.time,
  }));
  for (const m of msgs) {
    const w = m.headers['x-window-id'] ?? '';
    perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
    const key = `${m.headers['x-agent-id']}|${m.headers['x-hlc']}`;
    if (seen.has(key)) perWindow.duplicates.set(w, (perWindow.duplicates.get(w) ?? 0) + 1);
    seen.add(key);
  }
  return perWindow;
}

/**
 * Starts the recorders and the SDK probes.
 * @param {{ urls: string[], clusterId: string, sdkClients?: number }} o
 */
export async function startObservers(o) {
  const s = subjects(o.clusterId);
  const recorders = [];
  for (const url of o.urls) {
    const bus = await NatsBus.connect({
      servers: [url],
      name: 'chaos-recorder',
      reconnectTimeWaitMs: 100,
      pingIntervalMs: 1000,
    });
    const r = new Recorder(bus);
    bus.subscribe(s.beat, (m) => {
      try {
        const f = decodeJson(m.data);
        r.frames.push({
          slot: slotOf(f.beat_index, f.phase),
          beat: f.beat_index,
          phase: f.phase,
          window: f.window_id,
          downbeat: f.downbeat,
          at: Date.now(),
        });
      } catch {
        r.frames.push({ slot: -1, beat: -1, phase: 'invalid', window: '', downbeat: false, at: Date.now() });
      }
    });
    bus.subscribe(s.reverb, (m) => {
      try {
        const rep = reportSeen(m.data);
        if (rep) r.reports.push(rep);
      } catch {
        // not a report
      }
    });
    recorders.push(r);
  }
  const probes = [];
  for (let i = 1; i <= (o.sdkClients ?? 2); i++) {
    const client = createClient({ clusterId: o.clusterId, agentId: `chaos:sdk-${i}`, nats: { servers: o.urls } });
    const probe = { client, fired: [], acked: 0, failed: 0, failures: [] };
    client.onPhase((frame, info) =>
      probe.fired.push({
        slot: slotOf(frame.beat_index, frame.phase),
        beat: frame.beat_index,
        window: frame.window_id,
        source: info.source,
        at: Date.now(),
      }),
    );
    client.onBeat((frame) => {
      const sentAt = Date.now();
      client.emitStatusClaim({ state: 'executing', beatIndex: frame.beat_index }).then(
        () => (probe.acked += 1),
        (err) => {
          probe.failed += 1;
          probe.failures.push({ at: sentAt, message: err?.message ?? String(err) });
        },
      );
    });
    await client.start();
    probes.push(probe);
  }
  return {
    recorders,
    probes,
    /** Stored claims of the status stream: per window, how many. */
    storedClaims: (bus) => storedClaims(bus, o.clusterId),
    async stop() {
      await Promise.allSettled(probes.map((p) => p.client.stop()));
      await Promise.allSettled(recorders.map((r) => r.bus.close()));
    },
  };
}

/** Frames of all recorders merged: the first arrival of each slot, in arrival order. */
function mergedFrames(recorders) {
  const first = new Map();
  for (const r of recorders)
    for (const f of r.frames)
      if (f.slot >= 0 && (!first.has(f.slot) || first.get(f.slot).at > f.at)) first.set(f.slot, f);
  return [...first.values()].sort((a, b) => a.at - b.at);
}

/**
 * One row of the table: what happened on the wire, in the SDK clients and in the reports
 * between `from` and `to` (ms since the epoch).
 * @param {{ recorders: Recorder[], probes: any[] }} obs
 * @param {Map<string, number>} stored claims per window from the status stream
 * @param {{ fault: string, from: number, to: number, boundMs: number, bar: number }} p
 * @param {number} lastBeat the last beat seen on the wire in the whole run (bars ending after it have no report yet)
 */
export function measure(obs, stored, p, lastBeat) {
  const merged = mergedFrames(obs.recorders);
  const before = merged.filter((f) => f.at < p.from).at(-1);
  const inside = merged.filter((f) => f.at >= p.from && f.at <= p.to);
  let gap = 0;
  let prev = before?.at ?? p.from;
  for (const f of inside) {
    gap = Math.max(gap, f.at - prev);
    prev = f.at;
  }
  gap = Math.max(gap, p.to - prev); // no frame at all up to the end counts as a gap too
  let duplicated = 0;
  let backwards = 0;
  for (const r of obs.recorders) {
    const seen = new Set();
    let max = -1;
    let d = 0;
    let b = 0;
    for (const f of r.frames) {
      if (f.slot < 0) continue;
      const inPhase = f.at >= p.from && f.at <= p.to;
      if (seen.has(f.slot)) d += inPhase ? 1 : 0;
      else if (f.slot < max) b += inPhase ? 1 : 0;
      seen.add(f.slot);
      max = Math.max(max, f.slot);
    }
    duplicated = Math.max(duplicated, d);
    backwards = Math.max(backwards, b);
  }
  let missed = 0;
  let twice = 0;
  const sdkProblems = []; // where a probe skipped or repeated slots, for the JSON
  for (const probe of obs.probes) {
    let last;
    let lastAt;
    for (const s of probe.fired) {
      if (s.at >= p.from && s.at <= p.to && last !== undefined) {
        if (s.slot <= last) {
          twice += 1;
          sdkProblems.push({
            probe: probe.client.options?.agentId,
            kind: 'twice',
            slot: s.slot,
            source: s.source,
            at: s.at,
          });
        } else if (s.slot - last - 1 > 0) {
          missed += s.slot - last - 1;
          sdkProblems.push({
            probe: probe.client.options?.agentId,
            kind: 'missed',
            after_slot: last,
            slot: s.slot,
            source: s.source,
            at: s.at,
            since_previous_ms: s.at - lastAt,
          });
        }
      }
      last = last === undefined ? s.slot : Math.max(last, s.slot);
      lastAt = s.at;
    }
  }
  const claimsFailed = obs.probes.reduce(
    (n, pr) => n + pr.failures.filter((f) => f.at >= p.from && f.at <= p.to).length,
    0,
  );
  // Bars of this phase that ended before the run's last beat: those with frames on the wire, and
  // those the SDK clients kept locally while no frame came (a full outage), whose claims were
  // queued and sent after the reconnection.
  const bars = new Map();
  const sdkSlots = obs.probes.flatMap((pr) => pr.fired.filter((x) => x.at >= p.from && x.at <= p.to));
  for (const f of [...inside, ...sdkSlots]) {
    const fromBeat = f.beat - (f.beat % p.bar);
    if (fromBeat + p.bar <= lastBeat) bars.set(f.window, fromBeat);
  }
  let acked = 0;
  let counted = 0;
  // claims that reached reverb after their bar's report: counted as late_claims on a later report (the correction)
  let late = 0;
  let storedTwice = 0;
  let badBars = 0;
  let reports = 0;
  const detail = [];
  for (const [window, fromBeat] of bars) {
    const copies = Math.max(0, ...obs.recorders.map((r) => r.reports.filter((x) => x.window === window).length));
    const report = obs.recorders.flatMap((r) => r.reports).find((x) => x.window === window);
    reports += copies;
    if (copies !== 1) badBars += 1;
    acked += stored.get(window) ?? 0;
    storedTwice += stored.duplicates?.get(window) ?? 0;
    counted += report?.claims ?? 0;
    late += report?.late ?? 0;
    detail.push({
      from_beat: fromBeat,
      window,
      claims_acked: stored.get(window) ?? 0,
      claims_counted: report?.claims ?? null,
      agents_reporting: report?.agents ?? null,
      reports: copies,
    });
  }
  detail.sort((a, b) => a.from_beat - b.from_beat);
  return {
    fault: p.fault,
    gap_ms: Math.round(gap),
    bound_ms: p.boundMs,
    ...(p.jsRecoveryMs !== undefined ? { jetstream_recovery_ms: p.jsRecoveryMs } : {}),
    frames_duplicated: duplicated,
    frames_backwards: backwards,
    sdk_slots_missed: missed,
    sdk_slots_twice: twice,
    claims_acked: acked,
    claims_counted: counted,
    claims_counted_late: late,
    claims_stored_twice: storedTwice,
    sdk_claims_failed: claimsFailed,
    processes_died: p.died ?? [],
    bars: bars.size,
    reports,
    bars_without_one_report: badBars,
    bars_detail: detail,
    sdk_problems: sdkProblems,
  };
}

/**
 * The claims of the whole run: every bar of every row once, acknowledged against counted,
 * plus the late claims every report from the first of those bars on carries. A claim stored
 * after its bar's report is counted as late on the report of the bar it arrived in, which may
 * belong to the next row (or come after the last): so claims are checked for the run, not
 * per row. Each row's own figures stay in the table and the JSON.
 */
export function claimTotals(obs, rows) {
  const bars = new Map();
  for (const r of rows) for (const b of r.bars_detail) bars.set(b.window, b);
  const first = Math.min(...[...bars.values()].map((b) => b.from_beat));
  const lateReports = new Map(); // one copy per report (several recorders see each)
  for (const rec of obs.recorders)
    for (const x of rec.reports) if (x.fromBeat >= first) lateReports.set(x.window, x.late);
  const acked = [...bars.values()].reduce((n, b) => n + b.claims_acked, 0);
  const counted = [...bars.values()].reduce((n, b) => n + (b.claims_counted ?? 0), 0);
  const late = [...lateReports.values()].reduce((n, x) => n + x, 0);
  return { bars: bars.size, acked, counted, late, ok: acked === counted + late };
}

/** True when the row passes: every count zero, one report per bar, gap within bound (claims: see claimTotals). */
export function rowOk(row) {
  return (
    row.gap_ms <= row.bound_ms &&
    row.frames_duplicated === 0 &&
    row.frames_backwards === 0 &&
    row.sdk_slots_missed === 0 &&
    row.sdk_slots_twice === 0 &&
    row.claims_stored_twice === 0 &&
    row.sdk_claims_failed === 0 &&
    row.processes_died.length === 0 &&
    row.bars_without_one_report === 0
  );
}

/** The table as text, one line per fault. */
export function formatTable(rows) {
  const head = [
    'fault',
    'gap ms (bound)',
    'dup',
    'back',
    'sdk missed/twice',
    'sdk claims failed',
    'claims acked/counted+late (stored twice)',
    'reports/bars',
    'died',
    'ok',
  ];
  const lines = rows.map((r) => [
    r.fault,
    `${r.gap_ms} (${r.bound_ms})`,
    String(r.frames_duplicated),
    String(r.frames_backwards),
    `${r.sdk_slots_missed}/${r.sdk_slots_twice}`,
    String(r.sdk_claims_failed),
    `${r.claims_acked}/${r.claims_counted}+${r.claims_counted_late} (${r.claims_stored_twice})`,
    `${r.reports}/${r.bars}`,
    r.processes_died.join(',') || '-',
    rowOk(r) ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}
