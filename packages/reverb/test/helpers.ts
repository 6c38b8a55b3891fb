import { afterAll, beforeAll } from 'vitest';
import { windowId } from '@backbeat/core';
import { NatsServer } from '@backbeat/testing';
import { NatsBus, subjects, type Bus } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import type { BarReport } from '@backbeat/contracts';

/** What {@link useNatsServer} gives a test file. */
export interface NatsServerFixture {
  /** The file's nats-server (valid once beforeAll ran). */
  readonly server: NatsServer;
  /** A connection of the test's own. */
  readonly bus: NatsBus;
  /** Runs `stop` after the file, before the connection and the server close (last added, first run). */
  cleanup(stop: () => Promise<unknown>): void;
}

/**
 * One nats-server and one connection for a test file; everything registered with `cleanup`,
 * the connection and the server are stopped after the file, also when a test fails.
 */
export function useNatsServer(): NatsServerFixture {
  let server: NatsServer | undefined;
  let bus: NatsBus | undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    server = await NatsServer.start();
    bus = await NatsBus.connect({ servers: server.url });
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await bus?.close();
    await server?.stop();
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the nats-server fixture is used before beforeAll ran');
    return v;
  };
  return {
    get server() {
      return ready(server);
    },
    get bus() {
      return ready(bus);
    },
    cleanup: (stop) => void cleanups.push(stop),
  };
}

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
  const sub = bus.subscribe(subjects(cluster).reverb, (m) => reports.push(JSON.parse(new TextDecoder().decode(m.data)) as BarReport));
  return { reports, stop: () => sub.unsubscribe() };
}

/**
 * A single-node pulse on its own connection. The connection retries every 100 ms: after a
 * server restart it is back as soon as the server is (at the default 1 s, a pulse stopped
 * right after the restart waited about 5 s for its connection).
 */
export async function startPulse(url: string, cluster: string, bpm = 240, bar = 4): Promise<{ pulse: Pulse; bus: NatsBus; stop(): Promise<void> }> {
  const bus = await NatsBus.connect({ servers: url, reconnectTimeWaitMs: 100 });
  const pulse = new Pulse({ bus, clusterId: cluster, nodeId: `pulse-${cluster}`, bpm, maxBpm: 1000, barLength: bar, elector: 'single' });
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
