/**
 * What reverb puts on the bus: a bar report, stored de-duplicated by window id and then
 * broadcast once (SPEC 8), and a refused claim on the dead-letter subject with its reason
 * (SPEC 10). Thin: the decisions are the caller's.
 */
import type { BarReport } from '@backbeat/contracts';
import type { Logger } from '@backbeat/core';
import { MSG_ID_HEADER, subjects, type Bus, type Headers } from '@backbeat/transport';

const enc = new TextEncoder();
/** Bytes of a refused claim kept on the dead-letter subject. */
const DLQ_MAX_BYTES = 65_536;

/**
 * Stores `report` in the report stream (`Nats-Msg-Id` = window id) and, unless another
 * replica stored it first, broadcasts it on `backbeat.C.reverb`.
 * @returns 'stored', 'duplicate' (another replica's copy is stored), or 'failed' (retry later)
 */
export async function storeReport(bus: Bus, clusterId: string, report: BarReport, logger: Logger): Promise<'stored' | 'duplicate' | 'failed'> {
  const data = enc.encode(JSON.stringify(report));
  const s = subjects(clusterId);
  try {
    if ((await bus.publishDurable(s.reportStore, data, { msgId: report.window_id })).duplicate) return 'duplicate';
  } catch (err) {
    logger.warn({ err: (err as Error).message, window: report.window_id, from_beat: report.from_beat }, 'could not store the bar report; retrying');
    return 'failed';
  }
  try {
    bus.publish(s.reverb, data, { headers: { [MSG_ID_HEADER]: report.window_id } });
  } catch (err) {
    logger.warn({ err: (err as Error).message, window: report.window_id }, 'bar report stored but not broadcast');
  }
  return 'stored';
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
