/**
 * The `backbeat` command. `main` only parses flags and hands each subcommand to its module in
 * ./commands; services are built by their packages. A user mistake prints one line and exits
 * with code 2; it never prints a stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { BackbeatError, redactCredentials } from '@backbeat/core';
import { UsageError } from './errors.js';
import { STDIO, type CliOutput } from './output.js';

type Register = (program: Command) => void;

/**
 * The subcommands, in help order, each with the module that registers it. A module is loaded
 * only when its command runs: `backbeat pulse` does not load reverb, the dashboard or the dev
 * server (a service starts in about half the time; `--help` and unknown commands load all).
 */
const COMMANDS: ReadonlyArray<{ readonly names: readonly string[]; readonly load: () => Promise<Register> }> = [
  { names: ['dev'], load: async () => (await import('./commands/dev.js')).registerDev },
  { names: ['validate'], load: async () => (await import('./commands/validate.js')).registerValidate },
  { names: ['pulse'], load: async () => (await import('./commands/pulse.js')).registerPulse },
  { names: ['reverb'], load: async () => (await import('./commands/reverb.js')).registerReverb },
  { names: ['cluster'], load: async () => (await import('./commands/cluster.js')).registerCluster },
  { names: ['agent', 'watch'], load: async () => (await import('./commands/agent.js')).registerAgentAndWatch },
  { names: ['status'], load: async () => (await import('./commands/status.js')).registerStatus },
  { names: ['tempo'], load: async () => (await import('./commands/tempo.js')).registerTempo },
  { names: ['dlq'], load: async () => (await import('./commands/dlq.js')).registerDlq },
  { names: ['mirrors'], load: async () => (await import('./commands/mirrors.js')).registerMirrors },
];

/**
 * Builds the command tree (exported for tests and for `--help` docs generation): only the
 * command `argv` names when it names one, else every command.
 */
export async function buildProgram(argv: readonly string[] = [], output: CliOutput = STDIO): Promise<Command> {
  const program = new Command('backbeat')
    .description('BACKBEAT: one shared musical clock for a distributed fleet')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (text) => output.writeOut(text), writeErr: (text) => output.writeErr(text) })
    .exitOverride();
  // The top-level options (--help, --version) take no value: the first other word is the command.
  const named = argv.slice(2).find((a) => !a.startsWith('-'));
  const only = COMMANDS.filter((c) => named !== undefined && c.names.includes(named));
  for (const c of only.length > 0 ? only : COMMANDS) (await c.load())(program);
  return program;
}

/** The CLI's version: the one in its package.json. */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/**
 * Parses `argv` and runs its command; returns the exit code of a failure (2 for a user
 * mistake, 1 otherwise; 0 after --help or --version), or undefined when the command ran (it
 * may have set process.exitCode itself). Touches no process-wide state on a failure, so a test
 * can run it in-process; {@link main} is this plus the exit.
 */
export async function runCli(argv: string[], output: CliOutput = STDIO): Promise<number | undefined> {
  try {
    const program = await buildProgram(argv, output);
    await program.parseAsync(argv);
    return undefined;
  } catch (err) {
    return exitCodeFor(err, output);
  }
}

/**
 * Runs the CLI. Sets process.exitCode rather than calling process.exit, so long-running
 * subcommands can drain on SIGINT/SIGTERM before Node exits by itself.
 */
export async function main(argv: string[]): Promise<void> {
  const code = await runCli(argv);
  if (code === undefined) return;
  process.exitCode = code;
  // A command that failed has closed what it opened; should a handle linger anyway, the
  // process still ends within a second (fail fast), with the code set above.
  if (code !== 0) setTimeout(() => process.exit(), 500).unref();
}

function exitCodeFor(err: unknown, out: CliOutput): number {
  // Whatever an error says, a password or token in a URL in it is masked.
  const output: CliOutput = { writeOut: out.writeOut, writeErr: (text) => out.writeErr(redactCredentials(text)) };
  if (err instanceof CommanderError) {
    // --help and --version end through exitOverride with exit code 0; commander already printed.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof UsageError) {
    output.writeErr(`backbeat: ${err.message}\n`);
    return 2;
  }
  if (err instanceof BackbeatError) {
    // StartupError, NatsUnreachableError, ClusterNotFoundError, CommandFailedError: one sentence.
    output.writeErr(`backbeat: ${err.message}\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  output.writeErr(`backbeat: ${message}\n`);
  if (process.env.BACKBEAT_DEBUG && err instanceof Error && err.stack) output.writeErr(`${err.stack}\n`);
  return 1;
}
