/**
 * `backbeat tempo get` and `backbeat tempo set BPM --justification ...`: read or change the
 * tempo through any pulse node's admin API (BACKBEAT-REQ-004: within [min, max], at most
 * ±10 %, one pending change, applied at the next downbeat). A refusal is one line.
 */
import type { Command } from 'commander';
import { bearerHeader } from '@backbeat/core';
import { CommandFailedError, UsageError } from '../errors.js';
import { outputOf } from '../output.js';
import { adminTokenOf } from '../secrets.js';
import { terminalLines } from '../terminal.js';
import { numberFlag } from '../usage.js';

interface TempoFlags {
  pulse: string;
  adminToken?: string;
  adminTokenFile?: string;
  json?: boolean;
  justification?: string;
}

const DEFAULT_PULSE = 'http://127.0.0.1:8080';

/** Registers `backbeat tempo get|set`. */
export function registerTempo(program: Command): void {
  const tempo = program.command('tempo').description('read or change the tempo through a pulse admin API');
  const common = (c: Command) =>
    c
      .option(
        '--pulse <url>',
        'admin API of any pulse node (or BACKBEAT_PULSE_URL)',
        process.env.BACKBEAT_PULSE_URL ?? DEFAULT_PULSE,
      )
      .option('--json', 'print the answer as JSON');
  common(tempo.command('get').description('show the tempo in force, the pending change and the limits')).action(
    async (f: TempoFlags, cmd: Command) => {
      const body = await call(f, 'GET');
      outputOf(cmd).writeOut(f.json ? `${JSON.stringify(body)}\n` : renderTempo(body));
    },
  );
  common(tempo.command('set <bpm>').description('ask for a new tempo, applied at the next downbeat'))
    .option('--justification <text>', 'why (kept with the pending change)')
    .option(
      '--admin-token <token>',
      'bearer token of the pulse admin API; visible in ps: prefer --admin-token-file or BACKBEAT_ADMIN_TOKEN',
    )
    .option('--admin-token-file <file>', 'file holding the admin token (or BACKBEAT_ADMIN_TOKEN_FILE)')
    .action(async (bpmRaw: string, f: TempoFlags, cmd: Command) => {
      const bpm = numberFlag('BPM', bpmRaw, 0.1, 1000);
      if (f.justification !== undefined && f.justification.length > 1024)
        throw new UsageError('--justification', 'must be at most 1024 characters');
      const body = (await call(f, 'POST', {
        tempo_bpm: bpm,
        ...(f.justification ? { justification: f.justification } : {}),
      })) as { pending?: { effective_at?: string } };
      const at = body.pending?.effective_at ? ` (${body.pending.effective_at})` : '';
      outputOf(cmd).writeOut(
        f.json ? `${JSON.stringify(body)}\n` : `accepted: ${bpm} BPM from the next downbeat${at}\n`,
      );
    });
}

async function call(f: TempoFlags, method: 'GET' | 'POST', body?: unknown): Promise<Record<string, unknown>> {
  let url: URL;
  try {
    url = new URL('/tempo', f.pulse);
  } catch {
    throw new UsageError('--pulse', `must be an http(s) URL such as ${DEFAULT_PULSE}, got '${f.pulse}'`);
  }
  const token = method === 'POST' ? adminTokenOf(f) : undefined;
  let r: Response;
  try {
    r = await fetch(url, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...bearerHeader(token) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    const why = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CommandFailedError(
      `no pulse admin API answered at ${f.pulse} (${why}): is a pulse running there? pass --pulse http://host:port`,
    );
  }
  const answer = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  if (r.ok) return answer;
  const msg = typeof answer.message === 'string' ? answer.message : `HTTP ${r.status}`;
  if (r.status === 401)
    throw new CommandFailedError(
      `the pulse at ${f.pulse} refused the change: ${msg}; pass --admin-token-file FILE (or ` +
        '--admin-token TOKEN, BACKBEAT_ADMIN_TOKEN, BACKBEAT_ADMIN_TOKEN_FILE)',
      { status: 401 },
    );
  if (r.status === 400) {
    const rule = typeof answer.rule === 'string' && !msg.includes(answer.rule) ? ` (${answer.rule})` : '';
    throw new CommandFailedError(`tempo change refused: ${msg}${rule}`, { status: 400 });
  }
  throw new CommandFailedError(`the pulse at ${f.pulse} answered ${r.status}: ${msg}`, { status: r.status });
}

function renderTempo(t: Record<string, unknown>): string {
  const lines = [
    `tempo    ${t.current_bpm ?? 'no tempo map yet'}${t.current_bpm !== null ? ' BPM' : ''}` +
      `${t.bar_length ? `, ${t.bar_length} beats per bar` : ''}`,
    `pending  ${
      t.pending_bpm !== null && t.pending_bpm !== undefined
        ? `${t.pending_bpm} BPM${t.next_change ? ` at ${t.next_change}` : ''}`
        : 'none'
    }`,
    `limits   ${t.min_bpm} to ${t.max_bpm} BPM, at most ±10 % per change`,
    `change   ${t.can_change ? 'possible now' : `not now: ${t.reason}`}`,
  ];
  return terminalLines(lines);
}
