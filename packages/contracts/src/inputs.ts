/**
 * Reads what the validator CLI is asked to check: files, directories (recursive), a message
 * on the command line or stdin. A file may hold one message, a JSON array or JSON Lines.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MalformedJsonError } from './errors.js';
import { parseJson } from './parse.js';

/** One message to check, or the syntax error that kept it from being read. */
export interface InputMessage {
  readonly file: string;
  readonly index: number;
  readonly value?: unknown;
  readonly syntaxError?: MalformedJsonError;
}

/** An input that cannot be read at all (exit code 2). */
export class InputError extends Error {}

/** Every *.json and *.jsonl file below `dir`, sorted. @throws InputError */
export function listJsonFiles(dir: string): string[] {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new InputError(`cannot read directory ${dir}: no such directory`);
  }
  if (!st.isDirectory()) throw new InputError(`${dir} is not a directory`);
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.jsonl?$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Reads a file. @throws InputError with the reason */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new InputError(`cannot read ${file}: ${why}`);
  }
}

/** Splits one text into messages: a JSON value (an array gives one message per item), or JSON Lines. */
export function messagesOf(file: string, text: string, jsonLines = false): InputMessage[] {
  if (!jsonLines) {
    try {
      const value = parseJson(text);
      return Array.isArray(value) ? value.map((v, index) => ({ file, index, value: v })) : [{ file, index: 0, value }];
    } catch (err) {
      const lines = nonEmptyLines(text);
      // Several lines each starting an object: read as JSON Lines, so one bad line loses nothing else.
      if (lines.length < 2 || !lines.every((l) => l.text.trimStart().startsWith('{'))) {
        return [{ file, index: 0, syntaxError: err as MalformedJsonError }];
      }
    }
  }
  return nonEmptyLines(text).map((l, index) => {
    try {
      return { file, index, value: parseJson(l.text) };
    } catch (err) {
      const e = err as MalformedJsonError;
      return { file, index, syntaxError: new MalformedJsonError(e.message.replace(/^malformed JSON at line \d+, column \d+: /, ''), l.line, e.context.column) };
    }
  });
}

function nonEmptyLines(text: string): { text: string; line: number }[] {
  return text
    .split('\n')
    .map((t, i) => ({ text: t, line: i + 1 }))
    .filter((l) => l.text.trim() !== '');
}
