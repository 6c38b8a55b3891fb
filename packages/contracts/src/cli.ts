/**
 * `backbeat-validate` (also `backbeat validate`): checks messages against the contracts, with
 * the integration guide's flags. Exit codes: 0 done (all valid, or invalid without
 * --exit-code), 1 some message invalid with --exit-code, 2 usage or unreadable input.
 */
import { Command, CommanderError } from 'commander';
import { BackbeatError } from '@backbeat/core';
import { UnknownTypeError } from './errors.js';
import { InputError, listJsonFiles, messagesOf, readText, type InputMessage } from './inputs.js';
import type { ValidationIssue } from './issues.js';
import { defaultValidator, loadSchemas, PACKAGED_SCHEMA_DIR, type ContractValidator } from './validate.js';

/** Streams the CLI writes to and reads from (process streams by default). */
export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  readStdin(): Promise<string>;
}

/** One checked message, as printed with --json. */
export interface ValidateCliResult {
  readonly file: string;
  readonly index: number;
  readonly type: string | null;
  readonly valid: boolean;
  readonly errors: readonly ValidationIssue[];
}

const processIo: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

interface Flags {
  schemas?: string;
  dir: string[];
  file: string[];
  message: string[];
  json?: boolean;
  exitCode?: boolean;
}

const collect = (v: string, acc: string[]) => [...acc, v];

/** Runs the validator CLI with `argv` (without the node and script names); returns the exit code. */
export async function runValidateCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const program = new Command('backbeat-validate')
    .description('Validate BACKBEAT messages (INT-A BeatFrame, INT-B StatusClaim, INT-C BarReport) against their JSON Schemas.')
    .option('--schemas <dir>', 'directory of schema files', PACKAGED_SCHEMA_DIR)
    .option('--dir <dir>', 'validate every *.json / *.jsonl file below DIR (repeatable)', collect, [])
    .option('--file <file>', 'validate one file: a message, a JSON array or JSON Lines (repeatable)', collect, [])
    .option('--message <json>', "validate one message given inline, or '-' to read stdin (repeatable)", collect, [])
    .option('--json', 'print a machine-readable report')
    .option('--exit-code', 'exit with code 1 when any message is invalid')
    .addHelpText('after', '\nExit codes: 0 checked, 1 invalid message (with --exit-code), 2 usage or unreadable input.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  let flags: Flags;
  try {
    flags = program.parse(argv, { from: 'user' }).opts<Flags>();
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  try {
    return await run(flags, io);
  } catch (err) {
    if (err instanceof InputError || err instanceof BackbeatError) {
      io.stderr.write(`backbeat-validate: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

async function run(flags: Flags, io: CliIo): Promise<number> {
  if (flags.dir.length + flags.file.length + flags.message.length === 0) {
    io.stderr.write('backbeat-validate: nothing to validate: give --dir, --file or --message (see --help)\n');
    return 2;
  }
  const validator = flags.schemas === PACKAGED_SCHEMA_DIR ? defaultValidator() : loadSchemas(flags.schemas!);
  const inputs: InputMessage[] = [];
  for (const dir of flags.dir) for (const f of listJsonFiles(dir)) inputs.push(...messagesOf(f, readText(f), f.endsWith('.jsonl')));
  for (const f of flags.file) inputs.push(...messagesOf(f, readText(f), f.endsWith('.jsonl')));
  for (const m of flags.message) {
    const text = m === '-' ? await io.readStdin() : m;
    inputs.push(...messagesOf(m === '-' ? '<stdin>' : '<message>', text));
  }
  const results = inputs.map((input) => check(validator, input));
  const invalid = results.filter((r) => !r.valid).length;
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ summary: { total: results.length, valid: results.length - invalid, invalid }, results }, null, 2)}\n`);
  } else {
    for (const r of results) io.stdout.write(`${humanLine(r)}\n`);
    io.stdout.write(`${results.length} checked: ${results.length - invalid} valid, ${invalid} invalid\n`);
  }
  return flags.exitCode && invalid > 0 ? 1 : 0;
}

function check(validator: ContractValidator, input: InputMessage): ValidateCliResult {
  const at = { file: input.file, index: input.index };
  if (input.syntaxError) {
    const { line, column } = input.syntaxError.context;
    return { ...at, type: null, valid: false, errors: [{ path: '', rule: 'json', message: `${input.syntaxError.message} (${input.file}:${line}:${column})` }] };
  }
  try {
    const r = validator.validate(input.value);
    return { ...at, type: r.type, valid: r.valid, errors: r.valid ? [] : r.errors };
  } catch (err) {
    if (!(err instanceof UnknownTypeError)) throw err;
    const type = typeof err.context.type === 'string' ? err.context.type : null;
    return { ...at, type, valid: false, errors: [{ path: '/type', rule: 'type', message: err.message }] };
  }
}

function humanLine(r: ValidateCliResult): string {
  const where = `${r.file}[${r.index}]`;
  if (r.valid) return `✓ ${where} ${r.type}`;
  return `✗ ${where} ${r.type ?? '(unknown type)'}: ${r.errors.map((e) => `${e.path || '/'}: ${e.message}`).join('; ')}`;
}
