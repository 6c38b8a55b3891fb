/**
 * `backbeat watch`: every (beat, phase) as the SDK sees it, the leader changes read from the
 * lease, and one hint when no frame arrives within 5 s (a mistyped --cluster).
 */
import type { Command } from 'commander';
import { createClient, hintIfSilent, type Client, type LeaseView, type Timing } from '@backbeat/sdk';
import { runUntilSignal } from '../lifecycle.js';
import { terminalSafe } from '../terminal.js';
import { addClusterFlag, addNatsFlags, natsConfigFrom, type NatsFlags } from '../nats-flags.js';
import { NatsUnreachableError } from '../errors.js';
import { UsageError } from '../usage.js';

interface WatchFlags extends NatsFlags {
  cluster: string;
  json?: boolean;
  timing: string;
}

/** Parses `--timing`. @throws UsageError naming the flag and the choices */
export function timingFlag(raw: string): Timing {
  if (raw === 'grid' || raw === 'frames') return raw;
  throw new UsageError('--timing', `must be 'grid' or 'frames', got '${raw}'`);
}

/**
 * One line saying who leads now, or null when nothing a person cares about changed (a
 * renewal). `lastLeader` is the last node seen holding the lease, named as "was".
 */
export function leaderLine(
  lease: LeaseView,
  previous: LeaseView | undefined,
  lastLeader: { nodeId: string; term: number } | undefined,
): string | null {
  const key = (l: LeaseView | undefined) =>
    l === undefined ? '' : l.state === 'held' ? `${l.nodeId}#${l.term}` : l.state;
  if (key(lease) === key(previous)) return null;
  const was =
    lastLeader && !(lease.state === 'held' && lease.nodeId === lastLeader.nodeId && lease.term === lastLeader.term)
      ? ` (was ${lastLeader.nodeId}, term ${lastLeader.term})`
      : '';
  if (lease.state === 'held') return `leader ${lease.nodeId}, term ${lease.term}${was}`;
  return `no leader: ${lease.reason}${was}`;
}

/** Prints leader changes with `print`, starting from what the client knows now. */
function followLeader(client: Client, print: (line: string) => void): () => void {
  const h = client.health().lease;
  let last: LeaseView =
    h.state === 'held'
      ? { state: 'held', term: h.term!, nodeId: h.leader! }
      : { state: h.state, reason: h.reason ?? '' };
  let lastLeader = last.state === 'held' ? { nodeId: last.nodeId, term: last.term } : undefined;
  if (last.state === 'held') print(leaderLine(last, undefined, undefined)!);
  return client.onLeaseChange((lease) => {
    const line = leaderLine(lease, last, lastLeader);
    last = lease;
    if (lease.state === 'held') lastLeader = { nodeId: lease.nodeId, term: lease.term };
    if (line) print(line);
  });
}

/** Registers `backbeat watch`. */
export function registerWatch(program: Command): void {
  const watch = addClusterFlag(program.command('watch'))
    .description(
      'print every (beat, phase) as the SDK sees it, and leader changes; --json for one JSON line per callback',
    )
    .option(
      '--timing <mode>',
      "'frames': a slot fires on the leader's frame; 'grid': on the tempo map's instant, confirmed by the leader",
      'frames',
    )
    .option(
      '--json',
      'one JSON line per callback on stdout: beat_index, phase, source, ' +
        'scheduled_at, lateness_ms (leader changes and hints go to stderr)',
    );
  addNatsFlags(watch).action(async (f: WatchFlags) => {
    const timing = timingFlag(f.timing);
    const client = createClient({
      clusterId: f.cluster,
      agentId: 'agent:watch',
      nats: natsConfigFrom(f, 'backbeat-watch'),
      timing,
    });
    client.onPhase((frame, info) => {
      const lateness = Math.round((info.receivedAt - info.scheduledAt) * 1000) / 1000;
      if (f.json) {
        const line = {
          beat_index: frame.beat_index,
          phase: frame.phase,
          source: info.source,
          scheduled_at: new Date(info.scheduledAt).toISOString(),
          lateness_ms: lateness,
          tempo_bpm: frame.tempo_bpm,
          downbeat: frame.downbeat,
          window_id: frame.window_id,
        };
        process.stdout.write(`${JSON.stringify(line)}\n`);
      } else {
        const mark = frame.downbeat && frame.phase === 'plan' ? ' ▼ downbeat' : '';
        const line =
          `beat ${String(frame.beat_index).padStart(6)} ${frame.phase.padEnd(7)} ` +
          `${info.source.padEnd(6)} ${frame.tempo_bpm} BPM  late ${lateness.toFixed(3)} ms${mark}`;
        process.stdout.write(`${terminalSafe(line)}\n`);
      }
    });
    try {
      await client.start();
    } catch (err) {
      throw new NatsUnreachableError(f.nats, (err as Error).message, { cause: err });
    }
    const say = (line: string) => (f.json ? process.stderr : process.stdout).write(`${terminalSafe(line)}\n`);
    const stopLeader = followLeader(client, (l) => say(`-- ${l}`));
    const cancelHint = hintIfSilent(client, (hint) => process.stderr.write(`${hint}\n`));
    await runUntilSignal(
      async () => {
        cancelHint();
        stopLeader();
        await client.stop();
      },
      () => {},
    );
    setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
  });
}
