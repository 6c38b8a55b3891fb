/** The partition chaos run's observers (scripts/chaos/net-observer.mjs): their output, parsed. */

/**
 * What each host's observer printed, parsed as it comes: `seen` keeps each observer's parse
 * position and records across a restart of the observer; `procs` are the run's processes and
 * `hosts` the NetCluster's hosts. Returns the recorders and probes observe.mjs measures.
 */
export function readObservations(seen, procs, hosts) {
  for (const [id, p] of procs) {
    if (p.kind !== 'observer') continue;
    const host = hosts[p.host].name;
    let o = seen.get(id);
    if (!o) {
      o = {
        proc: p.proc,
        offset: 0,
        rec: { host, frames: [], reports: [] },
        probe: {
          host,
          fired: [],
          acked: 0,
          failed: 0,
          failures: [],
          client: { options: { agentId: `chaos:sdk-${host}` } },
        },
      };
      seen.set(id, o);
    }
    if (o.proc !== p.proc) Object.assign(o, { proc: p.proc, offset: 0 });
    const text = p.proc.stdout;
    const end = text.lastIndexOf('\n') + 1;
    if (end <= o.offset) continue;
    for (const line of text.slice(o.offset, end).split('\n')) {
      if (!line.startsWith('{')) continue;
      let x;
      try {
        x = JSON.parse(line);
      } catch {
        continue;
      }
      if (x.k === 'f') o.rec.frames.push(x);
      else if (x.k === 'r') o.rec.reports.push(x);
      else if (x.k === 's') o.probe.fired.push(x);
      else if (x.k === 'a') o.probe.acked += 1;
      else if (x.k === 'x') {
        o.probe.failed += 1;
        o.probe.failures.push(x);
      }
    }
    o.offset = end;
  }
  const all = [...seen.values()];
  return { recorders: all.map((o) => o.rec), probes: all.map((o) => o.probe) };
}
