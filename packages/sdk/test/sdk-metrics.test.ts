import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createClient } from '@backbeat/sdk';
import { MemoryBus } from '@backbeat/transport';

describe('sdk metrics - prom-client registry', () => {
  it('metrics - registered with the backbeat_sdk_ names when a registry is given', async () => {
    const registry = new Registry();
    const bus = new MemoryBus();
    const c = createClient({ clusterId: 'm', agentId: 'agent:m1', bus, registry });
    await c.start();
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual(
      [
        'backbeat_sdk_callback_duration_seconds',
        'backbeat_sdk_claims_emitted_total',
        'backbeat_sdk_claims_failed_total',
        'backbeat_sdk_frames_dropped_total',
        'backbeat_sdk_frames_received_total',
        'backbeat_sdk_frames_synthesized_total',
        'backbeat_sdk_hlc_skew_seconds',
        'backbeat_sdk_local_degradation',
        'backbeat_sdk_slots_skipped_total',
        'backbeat_sdk_grid_confirmation_lag_seconds',
        'backbeat_sdk_clock_offset_seconds',
      ].sort(),
    );
    await c.stop();
    await bus.close();
  });
});
