/**
 * `backbeat status`: the cluster at a glance, read from NATS alone: leader and term (from the
 * lease record, docs/spec.md §7 Election, terms and fencing), tempo and pending change, every pulse
 * node with its role and last renewal, the reverb replicas and their last report, the NATS servers
 * and the replicas of every bucket and stream. `--json` prints the same as one object.
 */
import type { Command } from 'commander';
import { readClusterStatus, type ClusterStatus, type NodeView } from '../cluster-status.js';
import { outputOf } from '../output.js';
import { terminalLines } from '../terminal.js';
import { addToolFlags, withCluster, type ToolFlags } from '../tool-flags.js';

/** Registers `backbeat status`. */
export function registerStatus(program: Command): void {
  const cmd = program
    .command('status')
    .description('show the leader, term, tempo, pulse nodes, reverb replicas and NATS servers of a cluster');
  addToolFlags(cmd).action(async (f: ToolFlags) => {
    const s = await withCluster(f, 'backbeat-status', (bus) => readClusterStatus(bus, f.cluster, f.nats));
    outputOf(cmd).writeOut(f.json ? `${JSON.stringify(s, null, 2)}\n` : renderStatus(s, Date.now()));
  });
}

/** "3.2 s ago", "4 min ago" ... for an RFC 3339 time. */
export function ago(iso: string | undefined | null, now: number): string {
  if (!iso) return 'never';
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  if (ms < 0) return 'just now';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s ago`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min ago`;
  return `${Math.round(ms / 3_600_000)} h ago`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The human form of a status; every line shows control characters as escapes. */
export function renderStatus(s: ClusterStatus, now: number): string {
  const out: string[] = [`cluster ${s.cluster_id}`];
  const l = s.leader;
  out.push(
    l
      ? `  leader   ${l.node_id}, term ${l.term}, leading since ${l.since} ` +
          `(${ago(l.since, now)}), lease renewed ${ago(l.renewed_at, now)}`
      : `  leader   none${
          s.lease_error
            ? ` (the lease value is unreadable: ${s.lease_error})`
            : ' (no node holds the lease: a failover, or no pulse running)'
        }`,
  );
  const t = s.tempo;
  out.push(
    `  tempo    ${t.bpm === null ? 'no tempo map yet' : `${t.bpm} BPM`}` +
      (t.bar_length ? `, ${plural(t.bar_length, 'beat')} per bar` : ''),
  );
  const p = t.pending;
  out.push(`  pending  ${p ? pendingText(p) : 'no tempo change'}`);
  out.push('', `pulse nodes (${s.pulse_nodes.length})`);
  if (s.pulse_nodes.length === 0) out.push('  none announced (nodes list themselves in the presence bucket every 5 s)');
  for (const n of s.pulse_nodes) out.push(nodeLine(n, now, s.leader?.node_id));
  out.push('', `reverb replicas (${s.reverb_replicas.length})`);
  if (s.reverb_replicas.length === 0) out.push('  none announced');
  for (const n of s.reverb_replicas) out.push(nodeLine(n, now));
  out.push('', `NATS servers (${s.servers.length})`);
  for (const v of s.servers)
    out.push(
      `  ${v.name}${v.version ? ` v${v.version}` : ''}` +
        `${v.url && v.url !== v.name ? ` ${v.url}` : ''}${v.connected ? ' (connected)' : ''}`,
    );
  out.push('', 'JetStream buckets and streams');
  const width = Math.max(...s.stores.map((x) => x.name.length), 10);
  for (const x of s.stores) {
    const where = x.leader ? `, leader ${x.leader}${x.peers?.length ? `, copies on ${x.peers.join(' ')}` : ''}` : '';
    const extra =
      `${x.ttl_ms ? `, ttl ${x.ttl_ms} ms` : ''}` +
      `${x.messages !== undefined ? `, ${plural(x.messages, 'message')}` : ''}`;
    const copies = x.replicas === null ? 'absent' : `${plural(x.replicas, 'replica')}${where}${extra}`;
    out.push(`  ${x.kind.padEnd(6)} ${x.name.padEnd(width)}  ${copies}`);
  }
  return terminalLines(out);
}

/** A pending tempo change: its tempo, from which beat (and when), who asked and why. */
function pendingText(p: NonNullable<ClusterStatus['tempo']['pending']>): string {
  const when =
    p.effective_beat !== undefined
      ? `from beat ${p.effective_beat}${p.effective_at ? ` (${p.effective_at})` : ''}`
      : 'at the next downbeat';
  const asked = p.requested_by ? `, asked on ${p.requested_by}` : '';
  return `${p.tempo_bpm} BPM ${when}${asked}${p.justification ? `: "${p.justification}"` : ''}`;
}

function nodeLine(n: NodeView, now: number, leader?: string): string {
  const i = n.info;
  const facts: string[] = [];
  const renewal = i.last_renewal ?? i.last_renewal_at ?? i.renewed_at;
  if (n.kind === 'pulse') {
    if (typeof i.term === 'number') facts.push(`term ${i.term}`);
    if (typeof renewal === 'string') facts.push(`last renewal ${ago(renewal, now)}`);
    else if (n.node_id === leader) facts.push('holds the lease');
    const off = i.clock_offset_ms ?? i.clock_offset;
    if (typeof off === 'number') facts.push(`clock offset ${off.toFixed(1)} ms`);
  } else {
    const http = i.http ?? i.http_address;
    if (typeof http === 'string') facts.push(http);
    const win = i.last_report_window ?? i.last_window;
    const at = i.last_report_at ?? i.last_report;
    if (typeof win === 'string' || typeof at === 'string')
      facts.push(
        (
          `last report ${typeof win === 'string' ? `${win.slice(0, 12)} ` : ''}` +
          `${typeof at === 'string' ? ago(at, now) : ''}`
        ).trim(),
      );
    else facts.push('no report yet');
  }
  facts.push(`${n.host} pid ${n.pid}`, `seen ${ago(n.updated_at, now)}`);
  return `  ${n.node_id.padEnd(14)} ${n.role.padEnd(9)} ${facts.join(', ')}`;
}
