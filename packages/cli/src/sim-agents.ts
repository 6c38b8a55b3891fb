/**
 * Simulated agents for demos, `backbeat agent` and `backbeat dev`: each follows the beat and
 * reports one claim per beat, its state moving through the bar; some fail, some get blocked,
 * some help others.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { DEFAULT_BAR_LENGTH, type Logger } from '@backbeat/core';
import type { ClaimState } from '@backbeat/contracts';
import { createClient, publicKeyBase64, type Client, type Timing } from '@backbeat/sdk';
import type { Bus } from '@backbeat/transport';

/** Options of {@link startSimAgents}. */
export interface SimAgentsOptions {
  bus: Bus;
  clusterId: string;
  count: number;
  /** Sign claims with a fresh Ed25519 key per agent. @default false */
  sign?: boolean;
  logger?: Logger;
  /** Agent id prefix: ids are `agent:<prefix>-<n>`. @default 'sim' */
  prefix?: string;
  /** How the agents time their beats (SDK option `timing`). @default 'frames' */
  timing?: Timing;
}

/** Shortest interval between two logs of the same claim failure, ms (one per cause, not one per agent). */
const CLAIM_LOG_EVERY_MS = 10_000;

/** Running simulated agents. */
export interface SimAgents {
  readonly clients: readonly Client[];
  /**
   * The trust file content for the agents' keys (the format of docs/spec.md §10 Security, Trust
   * file), when signing.
   */
  readonly trust: { agents: Record<string, string[]> };
  stop(): Promise<void>;
}

/** Kind of behaviour of agent n. */
export type Persona = 'worker' | 'flaky' | 'blocked' | 'helper';

/** Agent n's persona: most work; every 5th (from 3) fails, every 7th (from 5) blocks, every 4th (from 1) helps. */
export function personaOf(n: number): Persona {
  if (n % 5 === 3) return 'flaky';
  if (n % 7 === 5) return 'blocked';
  if (n % 4 === 1) return 'helper';
  return 'worker';
}

/** The state an agent of `persona` reports at position `beatInBar` of a bar of `barLength`. */
export function stateAt(persona: Persona, beatInBar: number, barLength: number): ClaimState {
  const last = barLength - 1;
  if (beatInBar === 0) return 'planning';
  if (beatInBar === last) return persona === 'flaky' ? 'failed' : 'completed';
  if (beatInBar === last - 1 && barLength > 2)
    return persona === 'blocked' ? 'blocked' : persona === 'helper' ? 'helping' : 'reviewing';
  if (persona === 'blocked' && beatInBar >= Math.floor(barLength / 2)) return 'waiting';
  return 'executing';
}

/** Starts `count` agents on `bus`. */
export async function startSimAgents(o: SimAgentsOptions): Promise<SimAgents> {
  const clients: Client[] = [];
  const trust: { agents: Record<string, string[]> } = { agents: {} };
  const logged = new Map<string, number>();
  const claimFailed = (agentId: string, err: Error) => {
    const key = (err as { code?: string }).code ?? err.message;
    const now = Date.now();
    if (now - (logged.get(key) ?? -Infinity) < CLAIM_LOG_EVERY_MS) return;
    logged.set(key, now);
    o.logger?.warn({ agent: agentId, err: err.message }, 'claim not sent (logged once per 10 s for each cause)');
  };
  for (let n = 0; n < o.count; n++) {
    const agentId = `agent:${o.prefix ?? 'sim'}-${n + 1}`;
    let key: KeyObject | undefined;
    if (o.sign) {
      key = generateKeyPairSync('ed25519').privateKey;
      trust.agents[agentId] = [publicKeyBase64(key)];
    }
    const c = createClient({
      clusterId: o.clusterId,
      agentId,
      bus: o.bus,
      signingKey: key,
      logger: o.logger,
      timing: o.timing,
    });
    const persona = personaOf(n);
    c.onBeat((frame) => {
      const bar = frame.bar_length ?? DEFAULT_BAR_LENGTH;
      const beatInBar = frame.beat_index % bar;
      const state = stateAt(persona, beatInBar, bar);
      c.emitStatusClaim({
        state,
        beatIndex: frame.beat_index,
        taskId: `task:${o.prefix ?? 'sim'}-${n + 1}-${Math.floor(frame.beat_index / bar)}`,
        progress: Math.min(1, (beatInBar + 1) / bar),
        beatsLeft: bar - 1 - beatInBar,
        notes: `${persona} agent, beat ${beatInBar + 1} of ${bar}`,
        waitFor: state === 'blocked' || state === 'waiting' ? ['hmmm://thread/dependency'] : undefined,
      }).catch((err: Error) => claimFailed(agentId, err));
    });
    await c.start();
    clients.push(c);
  }
  return {
    clients,
    trust,
    stop: async () => {
      await Promise.all(clients.map((c) => c.stop()));
    },
  };
}
