/**
 * `backbeat dlq [--follow] [--json]`: the dead letters of a cluster (`backbeat.C.dlq`): each
 * refused message with its time, reason (`x-reason`), agent and the start of its payload.
 * Stored letters come from the cluster's dead-letter stream; --follow adds new ones live.
 */
import type { Command } from 'commander';
import { dlqStreamConfig, subjects } from '@backbeat/transport';
import { followDeadLetters, readDeadLetters, type DeadLetter } from '../dead-letters.js';
import { runUntilSignal } from '../lifecycle.js';
import { outputOf } from '../output.js';
import { terminalSafe } from '../terminal.js';
import { addToolFlags, withCluster, type ToolFlags } from '../tool-flags.js';
import { intFlag } from '../usage.js';

interface DlqFlags extends ToolFlags {
  follow?: boolean;
  limit: string;
}

/** Registers `backbeat dlq`. */
export function registerDlq(program: Command): void {
  const cmd = program
    .command('dlq')
    .description('list the dead letters of a cluster: time, reason, agent and payload of each refused message')
    .option('--follow', 'keep running and print new dead letters as they arrive')
    .option('--limit <n>', 'stored letters to show (the newest)', '50');
  addToolFlags(cmd).action(async (f: DlqFlags) => {
    const limit = intFlag('--limit', f.limit, 0, 100_000);
    const { writeOut, writeErr } = outputOf(cmd);
    const print = (d: DeadLetter) => writeOut(f.json ? `${JSON.stringify(d)}\n` : `${letterLine(d)}\n`);
    await withCluster(f, 'backbeat-dlq', async (bus) => {
      const stored = limit > 0 ? await readDeadLetters(bus, f.cluster, limit) : [];
      if (stored === null)
        writeErr(
          `no dead-letter stream ${dlqStreamConfig(f.cluster).name} yet (reverb creates it); ` +
            `${f.follow ? 'following new letters' : 'use --follow to see new letters'}\n`,
        );
      for (const d of stored ?? []) print(d);
      if (!f.follow) {
        if (stored?.length === 0 && !f.json) writeErr('no dead letters\n');
        return;
      }
      const off = followDeadLetters(bus, f.cluster, print);
      await bus.flush();
      writeErr(`following ${subjects(f.cluster).dlq} (Ctrl-C to stop)\n`);
      await runUntilSignal(
        async () => off(),
        () => {},
      );
    });
  });
}

/** One dead letter on one line, control characters shown as escapes. */
export function letterLine(d: DeadLetter): string {
  return terminalSafe(
    `${d.time}  ${d.reason.padEnd(10)} ${(d.agent_id ?? '-').padEnd(16)} ${d.error}${d.error ? '  ' : ''}${d.payload}`,
  );
}
