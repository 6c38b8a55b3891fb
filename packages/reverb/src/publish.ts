/**
 * What reverb puts on the bus: a bar report, stored de-duplicated by window id with its claim
 * cut and builder (the server republishes each stored copy on the broadcast subject;
 * docs/spec.md §9 Reverb), and a refused claim on the dead-letter subject with its reason.
 * Thin: the decisions are the ledger's.
 */
import {
  AGENT_ID_HEADER,
  CLAIM_CUT_HEADER,
  ERROR_HEADER,
  HLC_HEADER,
  REASON_HEADER,
  REPORT_NODE_HEADER,
  WINDOW_ID_HEADER,
  type BarReport,
} from '@backbeat/contracts';
import type { Logger } from '@backbeat/core';
import { MSG_ID_HEADER, subjects, type Bus, type Headers } from '@backbeat/transport';

const enc = new TextEncoder();
/** Bytes of a refused claim kept on the dead-letter subject. */
const DLQ_MAX_BYTES = 65_536;

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
 * `Backbeat-Claim-Cut`, this replica's node id in `Backbeat-Report-Node`).
 * @returns whether this copy was stored and the stored copy's sequence, or 'failed' (retry later)
 */
export async function storeReport(
  bus: Bus,
  clusterId: string,
  report: BarReport,
  o: { cut: number; nodeId: string },
  logger: Logger,
): Promise<StoreOutcome> {
  const data = enc.encode(JSON.stringify(report));
  const headers = { [CLAIM_CUT_HEADER]: String(o.cut), [REPORT_NODE_HEADER]: o.nodeId };
  try {
    const ack = await bus.publishDurable(subjects(clusterId).reportStore, data, { msgId: report.window_id, headers });
    return { stored: !ack.duplicate, seq: ack.seq };
  } catch (err) {
    logger.warn(
      { err: (err as Error).message, window: report.window_id, from_beat: report.from_beat },
      'could not store the bar report; retrying',
    );
    return 'failed';
  }
}

/**
 * Broadcasts a stored report on `backbeat.C.reverb` itself: only for an old report stream without
 * the server's republish (nats-server 2.9 cannot add it in place); never throws.
 */
export function broadcastReport(bus: Bus, clusterId: string, report: BarReport, logger: Logger): void {
  try {
    bus.publish(subjects(clusterId).reverb, enc.encode(JSON.stringify(report)), {
      headers: { [MSG_ID_HEADER]: report.window_id },
    });
  } catch (err) {
    logger.warn({ err: (err as Error).message, window: report.window_id }, 'bar report stored but not broadcast');
  }
}

/** Sends a refused claim to `backbeat.C.dlq` with `x-reason` and `x-error`; never throws. */
export function deadLetter(
  bus: Bus,
  clusterId: string,
  data: Uint8Array,
  headers: Headers,
  reason: string,
  message: string,
  logger: Logger,
): void {
  const h: Record<string, string> = {
    [REASON_HEADER]: reason,
    [ERROR_HEADER]: message.replace(/[\r\n]+/g, ' ').slice(0, 512),
  };
  for (const k of [AGENT_ID_HEADER, WINDOW_ID_HEADER, HLC_HEADER]) if (headers[k] !== undefined) h[k] = headers[k]!;
  try {
    bus.publish(subjects(clusterId).dlq, data.length > DLQ_MAX_BYTES ? data.subarray(0, DLQ_MAX_BYTES) : data, {
      headers: h,
    });
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not publish to the dead-letter subject');
  }
}
