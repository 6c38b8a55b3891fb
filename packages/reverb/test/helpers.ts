import { NatsBus, subjects, type Bus } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import type { BarReport } from '@backbeat/contracts';

/** Collects the BarReports published on a cluster's reverb subject. */
export function collectReports(bus: Bus, cluster: string): { reports: BarReport[]; stop(): void } {
  const reports: BarReport[] = [];
  const sub = bus.subscribe(subjects(cluster).reverb, (m) => reports.push(JSON.parse(new TextDecoder().decode(m.data)) as BarReport));
  return { reports, stop: () => sub.unsubscribe() };
}

/** A single-node pulse on its own connection. */
export async function startPulse(url: string, cluster: string, bpm = 240, bar = 4): Promise<{ pulse: Pulse; bus: NatsBus; stop(): Promise<void> }> {
  const bus = await NatsBus.connect({ servers: url });
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
