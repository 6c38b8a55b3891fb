/**
 * Beat budgets (BACKBEAT-REQ-042): each task gets a number of beats; work that overruns is
 * aborted through its AbortSignal and reported as failed.
 *
 *   node packages/sdk/dist-examples/task-processor.js --nats nats://127.0.0.1:4222 --cluster chorus-aus-01
 */
import { BeatBudgetExceededError, createClient, hintIfSilent } from '@backbeat/sdk';
import { exampleArgs } from './args.js';

const { nats, cluster } = exampleArgs();
const client = createClient({ clusterId: cluster, agentId: 'agent:tasks-1', nats });
await client.start();
const cancelHint = hintIfSilent(client, (hint) => console.error(hint)); // a mistyped --cluster does not wait silently
await new Promise<void>((resolve) => {
  const off = client.onBeat(() => (off(), resolve()));
});

/** Work that takes `ms`, stopping early when the signal aborts. */
function work(ms: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => resolve(`finished in ${ms} ms`), ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)));
  });
}

const beatMs = 60_000 / (client.currentTempo ?? 12);
for (const [name, beats, ms] of [
  ['quick', 2, beatMs * 0.5],
  ['slow', 1, beatMs * 3],
] as const) {
  try {
    const result = await client.withBeatBudget(beats, (signal) => work(ms, signal));
    console.log(`task ${name}: ${result} (budget ${beats} beats)`);
    await client.emitStatusClaim({ state: 'completed', taskId: `task:${name}`, notes: result });
  } catch (err) {
    if (!(err instanceof BeatBudgetExceededError)) throw err;
    console.log(`task ${name}: ${err.message}`);
    await client.emitStatusClaim({ state: 'failed', taskId: `task:${name}`, notes: err.message });
  }
}
cancelHint();
await client.stop();
