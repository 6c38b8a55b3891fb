/**
 * A child process under test: output captured, waited on by pattern, and killed when the
 * test process exits even if the test failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { onProcessExit } from './cleanup.js';
import { waitFor } from './wait.js';

/** Options of {@link ManagedProcess.spawn}. */
export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A spawned process with captured stdout and stderr. */
export class ManagedProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | NodeJS.Signals>;
  #unregister: () => void;

  private constructor(child: ChildProcess) {
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.#unregister = onProcessExit(() => child.kill('SIGKILL'));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#unregister();
        resolve(code ?? signal ?? 'SIGKILL');
      });
    });
  }

  /** Starts `command args...` with piped output. */
  static spawn(command: string, args: string[], options: SpawnOptions = {}): ManagedProcess {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    return new ManagedProcess(child);
  }

  /** Starts a Node.js script. */
  static node(script: string, args: string[], options: SpawnOptions = {}): ManagedProcess {
    return ManagedProcess.spawn(process.execPath, [script, ...args], options);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until stdout or stderr matches `pattern`; returns the match. */
  async waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return waitFor(() => (this.stdout + this.stderr).match(pattern), {
      timeoutMs,
      message: `output matching ${pattern}\n--- stdout ---\n${this.stdout.slice(-2000)}\n--- stderr ---\n${this.stderr.slice(-2000)}`,
    });
  }

  /** Sends a signal (default SIGTERM). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.running) this.child.kill(signal);
  }

  /** Sends SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  async stop(graceMs = 5000): Promise<number | NodeJS.Signals> {
    if (!this.running) return this.exited;
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    const how = await this.exited;
    clearTimeout(timer);
    return how;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
