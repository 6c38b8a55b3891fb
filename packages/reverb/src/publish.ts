/**
 * What reverb puts on the bus: a bar report, stored de-duplicated by window id and then
 * broadcast once (docs/spec.md §9 Reverb), and a refused claim on the dead-letter subject with its reason
 * (docs/spec.md §9 Reverb). Thin: the decisions are the caller's.
 */
import type { BarReport } from '@backbeat/contracts';
import type { Logger } from '@backbeat/core';
import { MSG_ID_HEADER, subjects, type Bus, type Headers } from '@backbeat/transport';

const enc = new TextEncoder();
/** Bytes of a refused claim kept on the dead-letter subject. */
const DLQ_MAX_BYTES = 65_536;

/**
 * Header of a stored report: its claim cut, the claim-stream sequence up to which the report
 * accounts for every claim (docs/spec.md §9 Reverb, one count whichever replica stored it).
 */
export const CLAIM_CUT_HEADER = 'Backbeat-Claim-Cut';

/** The claim cut a stored report names, or undefined when it names none (or not a valid one). */
export function claimCutOf(headers: Headers): number | undefined {
  const raw = headers[CLAIM_CUT_HEADER];
  if (raw === undefined || !/^\d{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}

/** What {@link storeReport} did: stored, or found another copy stored first (its sequence in the report stream). */
export type StoreOutcome = { readonly stored: boolean; readonly seq: number } | 'failed';

/**
 * Stores `report` in the report stream (`Nats-Msg-Id` = window id, its claim cut in
 * {@link CLAIM_CUT_HEADER}) and, unless another replica stored it first, broadcasts it on
 * `backbeat.C.reverb`.
 * @returns whether this copy was stored and the stored copy's sequence, or 'failed' (retry later)
 */
export async function storeReport(bus: Bus, clusterId: string, report: BarReport, cut: number, logger: Logger): Promise<StoreOutcome> {
  const data = enc.encode(JSON.stringify(report));
  const s = subjects(clusterId);
  let seq: number;
  try {
    const ack = await bus.publishDurable(s.reportStore, data, { msgId: report.window_id, headers: { [CLAIM_CUT_HEADER]: String(cut) } });
    if (ack.duplicate) return { stored: false, seq: ack.seq };
    seq = ack.seq;
  } catch (err) {
    logger.warn({ err: (err as Error).message, window: report.window_id, from_beat: report.from_beat }, 'could not store the bar report; retrying');
    return 'failed';
  }
  try {
    bus.publish(s.reverb, data, { headers: { [MSG_ID_HEADER]: report.window_id } });
  } catch (err) {
    logger.warn({ err: (err as Error).message, window: report.window_id }, 'bar report stored but not broadcast');
  }
  return { stored: true, seq };
}

/** Sends a refused claim to `backbeat.C.dlq` with `x-reason` and `x-error`; never throws. */
export function deadLetter(bus: Bus, clusterId: string, data: Uint8Array, headers: Headers, reason: string, message: string, logger: Logger): void {
  const h: Record<string, string> = { 'x-reason': reason, 'x-error': message.replace(/[\r\n]+/g, ' ').slice(0, 512) };
  for (const k of ['x-agent-id', 'x-window-id', 'x-hlc']) if (headers[k] !== undefined) h[k] = headers[k]!;
  try {
    bus.publish(subjects(clusterId).dlq, data.length > DLQ_MAX_BYTES ? data.subarray(0, DLQ_MAX_BYTES) : data, { headers: h });
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not publish to the dead-letter subject');
  }
}
