// @ts-check
// What the sections of bench/reverb.mjs share: claim bytes as agents send them, rates, pauses.
import { sign } from 'node:crypto';
import { windowIdForBeat } from '@backbeat/core';

export const enc = new TextEncoder();
export const dec = new TextDecoder();

/**
 * Items per second.
 * @param {number} n
 * @param {number} ms
 */
export const perS = (n, ms) => Math.round(n / (ms / 1000));

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @typedef {{ data: Uint8Array, headers: Record<string, string> }} BenchClaim */

/**
 * `count` claims of beat `beat` from `agents` agents in turn, signed with `keys` when given.
 * @param {number} count
 * @param {number} beat
 * @param {number} agents
 * @param {import('node:crypto').KeyObject[]} [keys]
 * @param {string} [cluster]
 * @returns {BenchClaim[]}
 */
export function claims(count, beat, agents, keys, cluster = 'bench') {
  /** @type {BenchClaim[]} */
  const out = [];
  for (let i = 0; i < count; i++) {
    const agent = `agent:a${i % agents}`;
    const hlc = `18bcfe56800:${i.toString(16).padStart(4, '0')}:abcd`;
    const state = i % 9 === 0 ? 'completed' : 'executing';
    const claim = { type: 'backbeat.statusclaim.v1', agent_id: agent, beat_index: beat, state, hlc, progress: 0.5 };
    const data = enc.encode(JSON.stringify(claim));
    /** @type {Record<string, string>} */
    const headers = { 'x-agent-id': agent, 'x-window-id': windowIdForBeat(cluster, beat, 8) };
    if (keys) headers['x-signature'] = sign(null, data, keys[i % agents]).toString('base64');
    out.push({ data, headers });
  }
  return out;
}
