/** Where the CLI writes: stdout and stderr by default; a test running it in-process passes its own. */
import type { Command } from 'commander';

/** The CLI's two output streams (commander's help and errors go through them too). */
export interface CliOutput {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/** The process's stdout and stderr. */
export const STDIO: CliOutput = {
  writeOut: (text) => void process.stdout.write(text),
  writeErr: (text) => void process.stderr.write(text),
};

/** The output a command was built with (see `buildProgram`), for its action to write to. */
export function outputOf(cmd: Command): CliOutput {
  const { writeOut, writeErr } = cmd.configureOutput();
  return { writeOut: writeOut ?? STDIO.writeOut, writeErr: writeErr ?? STDIO.writeErr };
}
