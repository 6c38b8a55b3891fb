import { MemoryBus } from '@backbeat/transport';
import { runConformance } from './conformance.js';

runConformance('memory', async () => {
  const bus = new MemoryBus();
  return { open: async () => bus, teardown: async () => bus.close() };
});
