/**
 * `backbeat-validate` (also `backbeat validate`): checks messages against the contracts, with
 * the integration guide's flags (docs/spec.md §4 The three messages): --schemas DIR, --dir DIR,
 * --file F, --message JSON|-, --json, --exit-code.
 *
 * Exit codes, one per meaning: 0 every message checked (all valid, or some invalid without
 * --exit-code); 1 invalid input: a message breaks its contract (with --exit-code), or cannot
 * be checked at all (malformed JSON, unknown type: always); 2 usage error (no input, an
 * unknown flag, a missing file or directory, unreadable --schemas), one line on stderr. Each
 * invalid message is reported once, in the report (a line, or its --json result).
 */
import { Command, CommanderError, Option } from 'commander';
import { BackbeatError } from '@backbeat/core';
import { listJsonFiles, messagesOf, readText, type InputMessage } from './inputs.js';
import type { ValidationIssue } from './issues.js';
import { defaultValidator, loadSchemas, PACKAGED_SCHEMA_DIR, type ContractValidator } from './validate.js';

/** Where the CLI writes and reads; each defaults to the process stream. */
export interface CliIo {
  /** Receives the report. @default process.stdout */
  readonly stdout?: { write(chunk: string): unknown };
  /** Receives usage and input errors, one line each. @default process.stderr */
  readonly stderr?: { write(chunk: string): unknown };
  /** Read for `--message -`: a stream of text or bytes, or the text itself. @default process.stdin */
  readonly stdin?: AsyncIterable<string | Uint8Array> | string;
}

/** One checked message, as printed with --json. */
export interface ValidateCliResult {
  readonly file: string;
  readonly index: number;
  /** The message's `type` when it is a string, else null. */
  readonly type: string | null;
  readonly valid: boolean;
  readonly errors: readonly ValidationIssue[];
}

/** The --json document. */
export interface ValidateCliReport {
  readonly summary: { readonly total: number; readonly valid: number; readonly invalid: number };
  readonly results: readonly ValidateCliResult[];
}

/** Exit codes of the CLI, one per meaning: ok, invalid input, usage error. */
export const VALIDATE_EXIT_CODES = { ok: 0, invalid: 1, usage: 2 } as const;

const EXIT_HELP = `
Exit codes:
  0  every message was checked (all valid, or some invalid without --exit-code)
  1  invalid input: a message breaks its contract (with --exit-code), or is malformed JSON
     or of an unknown type (always); each is reported once, in the report
  2  usage error: no input, an unknown flag, a missing file or directory, unreadable --schemas`;

interface Flags {
  schemas: string;
  dir?: string[];
  file?: string[];
  message?: string[];
  json?: boolean;
  exitCode?: boolean;
}

interface Streams {
  out: (s: string) => void;
  err: (s: string) => void;
  stdin: () => Promise<string>;
}

const collect = (value: string, acc: string[] | undefined) => [...(acc ?? []), value];

/**
 * Runs the validator CLI; never calls process.exit and never throws for bad input.
 * @param argv the arguments after the program name (e.g. `['--dir', 'messages', '--exit-code']`)
 * @param io streams to use instead of the process's
 * @returns the exit code (see {@link VALIDATE_EXIT_CODES})
 */
export async function runValidateCli(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const streams = streamsOf(io);
  const program = new Command('backbeat-validate')
    .description(
      'Validate BACKBEAT messages (INT-A BeatFrame, INT-B StatusClaim, INT-C BarReport) against their JSON Schemas.',
    )
    .addOption(
      new Option('--schemas <dir>', 'directory of schema files').default(
        PACKAGED_SCHEMA_DIR,
        'the schemas shipped with @backbeat/contracts',
      ),
    )
    .option('--dir <dir>', 'check every *.json and *.jsonl file below DIR, recursively (repeatable)', collect)
    .option('--file <file>', 'check one file: a message, a JSON array or JSON Lines (repeatable)', collect)
    .option('--message <json>', "check one message given inline, or '-' to read it from stdin (repeatable)", collect)
    .option('--json', 'print one JSON document: {summary, results: [{file, index, type, valid, errors}]}')
    .option('--exit-code', 'exit with code 1 when any message is invalid')
    .addHelpText('after', EXIT_HELP)
    .exitOverride()
    .configureOutput({ writeOut: streams.out, writeErr: streams.err });
  let flags: Flags;
  try {
    flags = program.parse([...argv], { from: 'user' }).opts<Flags>();
  } catch (err) {
    // Commander has already printed its one-line error (or the help).
    if (err instanceof CommanderError) return err.exitCode === 0 ? VALIDATE_EXIT_CODES.ok : VALIDATE_EXIT_CODES.usage;
    throw err;
  }
  try {
    return await run(flags, streams);
  } catch (err) {
    // Expected failures (unreadable input, bad --schemas) are BackbeatErrors; anything else is
    // a bug, still told in one line rather than a stack trace.
    const message =
      err instanceof BackbeatError
        ? err.message
        : `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
    streams.err(`backbeat-validate: ${message}\n`);
    return VALIDATE_EXIT_CODES.usage;
  }
}

function streamsOf(io: CliIo): Streams {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const source = io.stdin ?? process.stdin;
  let cached: Promise<string> | undefined;
  const readAll = async () => {
    if (typeof source === 'string') return source;
    const chunks: Buffer[] = [];
    for await (const c of source) chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
    return Buffer.concat(chunks).toString('utf8');
  };
  return { out: (s) => void stdout.write(s), err: (s) => void stderr.write(s), stdin: () => (cached ??= readAll()) };
}

async function run(flags: Flags, io: Streams): Promise<number> {
  const { dir: dirs = [], file: files = [], message: messages = [] } = flags;
  if (dirs.length + files.length + messages.length === 0) {
    io.err('backbeat-validate: nothing to validate: give --dir DIR, --file FILE or --message JSON (see --help)\n');
    return VALIDATE_EXIT_CODES.usage;
  }
  const validator = flags.schemas === PACKAGED_SCHEMA_DIR ? defaultValidator() : loadSchemas(flags.schemas);
  // Read every input first: a missing file or directory stops the run before any report.
  const inputs: InputMessage[] = [];
  for (const dir of dirs)
    for (const f of listJsonFiles(dir)) inputs.push(...messagesOf(f, readText(f), f.endsWith('.jsonl')));
  for (const f of files) inputs.push(...messagesOf(f, readText(f), f.endsWith('.jsonl')));
  for (const [i, m] of messages.entries()) {
    const name = m === '-' ? '<stdin>' : messages.length > 1 ? `<message ${i + 1}>` : '<message>';
    inputs.push(...messagesOf(name, m === '-' ? await io.stdin() : m));
  }

  // Malformed JSON and unknown types are reported once, in the report, like any invalid message.
  let unreadable = 0;
  const lines: string[] = [];
  const results = inputs.map((input) => {
    const r = check(validator, input);
    if (r.problem) unreadable++;
    lines.push(r.problem ? `✗ ${r.problem}` : humanLine(r.result));
    return r.result;
  });
  const invalid = results.filter((r) => !r.valid).length;
  const summary = { total: results.length, valid: results.length - invalid, invalid };
  if (flags.json) {
    const report: ValidateCliReport = { summary, results };
    io.out(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    for (const l of lines) io.out(`${l}\n`);
    io.out(`${summary.total} message(s) checked: ${summary.valid} valid, ${summary.invalid} invalid\n`);
  }
  if (unreadable > 0) return VALIDATE_EXIT_CODES.invalid;
  return flags.exitCode && invalid > 0 ? VALIDATE_EXIT_CODES.invalid : VALIDATE_EXIT_CODES.ok;
}

/** Checks one input; `problem` is set when it could not be read as a contract message at all. */
function check(validator: ContractValidator, input: InputMessage): { result: ValidateCliResult; problem?: string } {
  const at = { file: input.file, index: input.index };
  if (input.syntaxError) {
    const { line, column, errors } = input.syntaxError.context;
    const reason = input.syntaxError.message.replace(/^malformed JSON at line \d+, column \d+: /, '');
    return {
      result: { ...at, type: null, valid: false, errors },
      problem: `${input.file}:${line}:${column}: malformed JSON: ${reason}`,
    };
  }
  const r = validator.validate(input.value);
  const rawType =
    typeof input.value === 'object' && input.value !== null ? (input.value as { type?: unknown }).type : undefined;
  const type = r.type ?? (typeof rawType === 'string' ? rawType : null);
  const result: ValidateCliResult = { ...at, type, valid: r.valid, errors: r.valid ? [] : r.errors };
  if (!r.valid && r.type === undefined)
    return { result, problem: `${input.file}[${input.index}]: ${r.errors[0]?.message ?? 'unknown type'}` };
  return { result };
}

function humanLine(r: ValidateCliResult): string {
  const where = `${r.file}[${r.index}]`;
  if (r.valid) return `✓ ${where} ${r.type}`;
  const errors = r.errors.map((e) => `${e.path === '' ? '(root)' : e.path}: ${e.message}`).join('; ');
  return `✗ ${where} ${r.type ?? '(unknown type)'}: ${errors}`;
}
