/**
 * Structured JSON logs (pino). When stdout is a terminal the same records are printed as one
 * readable line each (time, level, message, fields); set BACKBEAT_LOG_FORMAT=json to keep
 * raw JSON on a terminal too. Either way every line has the credentials of any URL in it
 * masked, and a pretty line shows control characters as escapes (docs/spec.md §10 Security).
 */
import { Writable } from 'node:stream';
import { pino, type Logger as PinoLogger } from 'pino';
import { redactCredentials } from '@backbeat/core';
import { terminalSafe } from './terminal.js';
import { UsageError } from './usage.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
const NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

/** Formats one pino JSON record as a terminal line. */
export function prettyLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return terminalSafe(json);
  }
  const { time, level, msg, pid: _pid, hostname: _host, ...rest } = rec;
  const t = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  // One record, one line: a message or field with a line break or an ESC sequence in it
  // (a justification, an agent id) cannot forge another line or drive the terminal.
  return terminalSafe(
    `${t} ${NAMES[level as number] ?? String(level)} ${String(msg ?? '')}${fields ? `  ${fields}` : ''}`,
  );
}

/** A stream that writes each record to `out`, credentials masked, pretty when `pretty`. */
export function logSink(out: (line: string) => void, pretty: boolean): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line) out(`${redactCredentials(pretty ? prettyLine(line) : line)}\n`);
      }
      cb();
    },
  });
}

/** The process logger. @throws UsageError for an unknown level */
export function createLogger(level: string | undefined, name: string): PinoLogger {
  const lvl = (level ?? process.env.BACKBEAT_LOG_LEVEL ?? 'info').toLowerCase();
  if (!(LEVELS as readonly string[]).includes(lvl))
    throw new UsageError('--log-level', `must be one of ${LEVELS.join(', ')}, got '${lvl}'`);
  const pretty = process.stdout.isTTY === true && process.env.BACKBEAT_LOG_FORMAT !== 'json';
  return pino(
    { level: lvl, base: { service: name } },
    logSink((line) => process.stdout.write(line), pretty),
  );
}
