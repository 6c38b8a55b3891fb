/**
 * Text from outside (agent ids, reasons, justifications, header values) is shown on a terminal
 * as data, never as commands to it (docs/spec.md §10 Security): control characters (C0, DEL,
 * C1, which carry ESC sequences and line breaks) and the Unicode bidirectional overrides, which
 * reorder what is shown, are printed as escapes such as `\x1b`, `\n` or `\u202e`.
 */

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` with every control or bidirectional character shown as an escape. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Each line of `lines` made {@link terminalSafe}, joined by newlines, with a final newline. */
export function terminalLines(lines: readonly string[]): string {
  return `${lines.map(terminalSafe).join('\n')}\n`;
}
