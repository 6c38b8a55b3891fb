/**
 * `backbeat mirrors`: makes (or brings up to date) the VIEW account's read-only mirrors of the
 * lease, state and presence buckets and the dead-letter stream, logged in as the deploy's
 * "view" user (docs/security.md Roles). Waits for each origin (pulse and reverb create them),
 * then exits: 0 when every mirror exists, 1 when an origin did not appear within --wait.
 */
import type { Command } from 'commander';
import { assertClusterId, type NatsBus } from '@backbeat/transport';
import { InvalidArgumentError } from '@backbeat/core';
import { mirrorConfig, mirroredOrigins, ORIGIN_API_PREFIX, type OriginSettings } from '../mirror-config.js';
import { addClusterFlag, addNatsFlags, connectBus, type NatsFlags } from '../nats-flags.js';
import { outputOf } from '../output.js';
import { UsageError } from '../errors.js';
import { intFlag } from '../usage.js';

interface MirrorsFlags extends NatsFlags {
  cluster: string;
  replicas: string;
  wait: string;
}

/** Registers `backbeat mirrors`. */
export function registerMirrors(program: Command): void {
  const cmd = addClusterFlag(program.command('mirrors'))
    .description(
      "make the read-only mirrors agents and observers read (the deploy's VIEW account; run as user view), then exit",
    )
    .option(
      '--replicas <n>',
      'copies of each mirror, 1 to 5 (or BACKBEAT_REPLICAS)',
      process.env.BACKBEAT_REPLICAS ?? '1',
    )
    .option('--wait <seconds>', 'how long to wait for pulse and reverb to create the origins', '120');
  addNatsFlags(cmd).action(async (f: MirrorsFlags) => {
    try {
      assertClusterId(f.cluster);
    } catch (err) {
      throw new UsageError(
        '--cluster',
        err instanceof InvalidArgumentError ? err.context.rule : (err as Error).message,
      );
    }
    const replicas = intFlag('--replicas', f.replicas, 1, 5);
    const waitMs = intFlag('--wait', f.wait, 0, 3600) * 1000;
    const { writeOut, writeErr } = outputOf(cmd);
    const bus = await connectBus(f, 'backbeat-mirrors');
    try {
      let missing = 0;
      for (const origin of mirroredOrigins(f.cluster)) {
        const settings = await waitForOrigin(bus, origin, waitMs, () =>
          writeErr(`waiting for ${origin} (pulse and reverb create it)\n`),
        );
        if (!settings) {
          writeErr(
            `origin ${origin} did not appear within ${f.wait} s: start pulse ` +
              `and reverb, then run backbeat mirrors again\n`,
          );
          missing += 1;
          continue;
        }
        writeOut(`mirror ${origin}: ${await ensureMirror(bus, mirrorConfig(f.cluster, origin, settings, replicas))}\n`);
      }
      if (missing > 0) process.exitCode = 1;
    } finally {
      await bus.close();
    }
  });
}

/** The origin's settings, read through the BACKBEAT account's API; undefined when it did not appear in time. */
async function waitForOrigin(
  bus: NatsBus,
  origin: string,
  waitMs: number,
  onWait: () => void,
): Promise<OriginSettings | undefined> {
  const until = Date.now() + waitMs;
  for (let told = false; ; told = true) {
    const answer = await bus
      .request(`${ORIGIN_API_PREFIX}.STREAM.INFO.${origin}`, new Uint8Array(0), { timeoutMs: 5000 })
      .catch(() => undefined);
    const info =
      answer &&
      (JSON.parse(new TextDecoder().decode(answer.data)) as {
        config?: OriginSettings;
        error?: { description?: string };
      });
    if (info?.config) return info.config;
    if (info?.error && !/not found/i.test(info.error.description ?? ''))
      throw new Error(`stream info of ${origin}: ${info.error.description}`);
    if (Date.now() >= until) return undefined;
    if (!told) onWait();
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Creates the mirror, or updates its limits; says which. */
async function ensureMirror(bus: NatsBus, config: Record<string, unknown>): Promise<string> {
  const jsm = await bus.jsm();
  const name = config.name as string;
  type AddConfig = Parameters<typeof jsm.streams.add>[0];
  const exists = await jsm.streams.info(name).then(
    () => true,
    (err: unknown) => (/stream not found/i.test((err as Error).message) ? false : Promise.reject(err)),
  );
  if (!exists) {
    await jsm.streams.add(config as AddConfig);
    return 'created';
  }
  await jsm.streams.update(name, config as Parameters<typeof jsm.streams.update>[1]);
  return 'up to date';
}
