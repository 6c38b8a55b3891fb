/**
 * The partition chaos run's own figures (scripts/chaos/partition.mjs): the dual-leader window,
 * older terms delivered after newer ones, SDK slots missed or fired twice, and the claims that a
 * report can only carry as late. Pure: observations in, numbers out.
 */

/**
 * The partition columns of one row: the dual-leader window (two terms both delivered on time,
 * before their deadline, to any observer), deliveries of an older term after any observer
 * had a newer one, and SDK slots missed or fired twice per host.
 */
export function partitionFigures(obs, p) {
  const inPhase = (x) => x.at >= p.from && x.at <= p.to;
  const frames = obs.recorders.flatMap((r) => r.frames.map((f) => ({ ...f, host: r.host }))).filter((f) => f.slot >= 0);
  frames.sort((a, b) => a.at - b.at);
  // On time: delivered before the phase's deadline.
  const onTime = new Map();
  for (const f of frames.filter(inPhase)) {
    if (f.at > f.deadline) continue;
    const t = onTime.get(f.term) ?? { first: f.at, last: f.at };
    t.first = Math.min(t.first, f.at);
    t.last = Math.max(t.last, f.at);
    onTime.set(f.term, t);
  }
  let dual = 0;
  for (const [ta, a] of onTime) for (const [tb, b] of onTime) if (ta < tb) dual = Math.max(dual, a.last - b.first);
  // Older term after newer: any observer, in arrival order over the whole run so far.
  let maxTerm = -1;
  let older = 0;
  let olderLateMs = 0;
  const olderByHost = {};
  for (const f of frames) {
    if (f.term < maxTerm && inPhase(f)) {
      older += 1;
      olderLateMs = Math.max(olderLateMs, f.at - f.deadline);
      olderByHost[f.host] = (olderByHost[f.host] ?? 0) + 1;
    }
    maxTerm = Math.max(maxTerm, f.term);
  }
  const terms = [...new Set(frames.filter(inPhase).map((f) => f.term))].sort((a, b) => a - b);
  const sdk = {};
  for (const probe of obs.probes) {
    let last;
    let missed = 0;
    let twice = 0;
    for (const s of probe.fired) {
      if (inPhase(s) && last !== undefined) {
        if (s.slot <= last) twice += 1;
        else missed += s.slot - last - 1;
      }
      last = last === undefined ? s.slot : Math.max(last, s.slot);
    }
    sdk[probe.host] = { missed, twice };
  }
  return {
    dual_leader_ms: Math.max(0, Math.round(dual)),
    older_term_after_newer: older,
    older_term_latest_ms: Math.round(olderLateMs),
    older_by_host: olderByHost,
    terms,
    sdk,
  };
}

/**
 * Claims the stream stored after the first report of their bar reached any observer, per
 * agent: the ones a report can only carry as late (where the late claims come from).
 */
export function lateClaimsByAgent(obs, stored) {
  const reportAt = new Map();
  for (const r of obs.recorders)
    for (const x of r.reports) reportAt.set(x.window, Math.min(reportAt.get(x.window) ?? Infinity, x.at));
  const out = {};
  for (const c of stored.all) {
    const at = reportAt.get(c.window);
    if (at !== undefined && c.time > at) out[c.agent] = (out[c.agent] ?? 0) + 1;
  }
  return out;
}
