import { windowId } from '@backbeat/core';
import { NatsBus, subjects, type Bus } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { createClient } from '@backbeat/sdk';
import type { BarReport } from '@backbeat/contracts';

/** An empty, valid BarReport of the bar from `fromBeat` (`beats` long). */
export function emptyReport(cluster: string, fromBeat: number, beats = 4): BarReport {
  return {
    type: 'backbeat.barreport.v1',
    cluster_id: cluster,
    window_id: windowId(cluster, fromBeat),
    from_beat: fromBeat,
    to_beat: fromBeat + beats - 1,
    agents_reporting: 0,
    on_time_reviews: 0,
    help_promises_fulfilled: 0,
    secret_rotations_ok: true,
    tempo_drift_ms: 0,
    issues: [],
  };
}

/** Collects the BarReports published on a cluster's reverb subject. */
export function collectReports(bus: Bus, cluster: string): { reports: BarReport[]; stop(): void } {
  const reports: BarReport[] = [];
  const sub = bus.subscribe(subjects(cluster).reverb, (m) =>
    reports.push(JSON.parse(new TextDecoder().decode(m.data)) as BarReport),
  );
  return { reports, stop: () => sub.unsubscribe() };
}

/**
 * A single-node pulse on its own connection. The connection retries every 100 ms: after a
 * server restart it is back as soon as the server is (at the default 1 s, a pulse stopped
 * right after the restart waited about 5 s for its connection).
 */
export async function startPulse(
  url: string,
  cluster: string,
  bpm = 240,
  bar = 4,
): Promise<{ pulse: Pulse; bus: NatsBus; stop(): Promise<void> }> {
  const bus = await NatsBus.connect({ servers: url, reconnectTimeWaitMs: 100 });
  const pulse = new Pulse({
    bus,
    clusterId: cluster,
    nodeId: `pulse-${cluster}`,
    bpm,
    maxBpm: 1000,
    barLength: bar,
    elector: 'single',
  });
  await pulse.start();
  return {
    pulse,
    bus,
    stop: async () => {
      await pulse.stop();
      await bus.close();
    },
  };
}

/**
 * Starts an SDK client `agentId` that claims `executing` on the first three beats of every 4-beat
 * bar (none on the fourth), on the fixture's server; it is stopped with the fixture (or earlier
 * by the caller).
 */
export async function startClaimer(
  fx: { readonly server: { readonly url: string }; cleanup(stop: () => unknown): void },
  cluster: string,
  agentId: string,
): Promise<ReturnType<typeof createClient>> {
  const c = createClient({ clusterId: cluster, agentId, nats: fx.server.url });
  c.onBeat(
    (f) =>
      void (
        f.beat_index % 4 === 3 ? Promise.resolve() : c.emitStatusClaim({ state: 'executing', beatIndex: f.beat_index })
      ).catch(() => {}),
  );
  await c.start();
  fx.cleanup(() => c.stop());
  return c;
}
