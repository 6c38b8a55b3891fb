/**
 * Reads what backbeat-validate is asked to check: files, directories (recursive), a message
 * on the command line or stdin. A file may hold one message, a JSON array of messages, or
 * JSON Lines (`.jsonl`, or several lines that each hold one JSON object).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MalformedJsonError, ValidateInputError } from './errors.js';
import { parseJson } from './parse.js';

/** One message to check (by position in its source), or the syntax error that kept it from being read. */
export interface InputMessage {
  readonly file: string;
  readonly index: number;
  readonly value?: unknown;
  readonly syntaxError?: MalformedJsonError;
}

/**
 * Every `*.json` and `*.jsonl` file below `dir`, recursively, in a stable (sorted) order.
 * @throws ValidateInputError when `dir` is missing, not a directory or unreadable
 */
export function listJsonFiles(dir: string): string[] {
  try {
    if (!statSync(dir).isDirectory()) throw new ValidateInputError(dir, 'not a directory');
  } catch (err) {
    if (err instanceof ValidateInputError) throw err;
    throw new ValidateInputError(dir, reasonOf(err, 'no such directory'), { cause: err });
  }
  const out: string[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (err) {
      throw new ValidateInputError(d, reasonOf(err, 'no such directory'), { cause: err });
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.jsonl?$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/**
 * Reads a whole file as UTF-8.
 * @throws ValidateInputError with the reason (no such file, permission denied, is a directory)
 */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ValidateInputError(file, reasonOf(err, 'no such file'), { cause: err });
  }
}

function reasonOf(err: unknown, missing: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return missing;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory (use --dir)';
  if (code === 'ENOTDIR') return 'not a directory';
  return (err as Error).message;
}

/**
 * Splits one text into messages. A JSON array gives one message per item; JSON Lines (forced
 * with `jsonLines`, or detected: several non-blank lines that each start an object) give one
 * per line, so a broken line does not hide the others. Blank lines are skipped.
 */
export function messagesOf(file: string, text: string, jsonLines = false): InputMessage[] {
  if (!jsonLines) {
    try {
      const value = parseJson(text);
      return Array.isArray(value)
        ? value.map((v: unknown, index) => ({ file, index, value: v }))
        : [{ file, index: 0, value }];
    } catch (err) {
      if (!(err instanceof MalformedJsonError)) throw err;
      const lines = nonBlankLines(text);
      if (lines.length < 2 || !lines.every((l) => l.text.trimStart().startsWith('{')))
        return [{ file, index: 0, syntaxError: err }];
    }
  }
  return nonBlankLines(text).map((l, index) => {
    try {
      return { file, index, value: parseJson(l.text) };
    } catch (err) {
      if (!(err instanceof MalformedJsonError)) throw err;
      // Report the position in the file, not in the line.
      const reason = err.message.replace(/^malformed JSON at line \d+, column \d+: /, '');
      return { file, index, syntaxError: new MalformedJsonError(reason, l.line, err.context.column) };
    }
  });
}

function nonBlankLines(text: string): { text: string; line: number }[] {
  return text
    .split('\n')
    .map((t, i) => ({ text: t.replace(/\r$/, ''), line: i + 1 }))
    .filter((l) => l.text.trim() !== '');
}
