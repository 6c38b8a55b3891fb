/**
 * A child process under test: output captured, waited on by pattern, and killed when the
 * test process exits even if the test failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { onProcessExit } from './cleanup.js';

/** Options of {@link ManagedProcess.spawn}. */
export interface SpawnOptions {
  /** Added to (and overriding) this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Working directory. @default process.cwd() */
  cwd?: string;
}

/** A spawned process with captured stdout and stderr. */
export class ManagedProcess {
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout so far. */
  stdout = '';
  /** Everything the process wrote to stderr so far. */
  stderr = '';
  /**
   * Resolves with the exit code (or the signal name; -1 when it could not start) once it ended and its output is read.
   */
  readonly exited: Promise<number | NodeJS.Signals>;
  #unregister: () => void;
  #closed = false;

  private constructor(child: ChildProcess) {
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.#unregister = onProcessExit(() => child.kill('SIGKILL'));
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.#closed) return;
        this.#closed = true;
        this.#unregister();
        resolve(code ?? signal ?? 'SIGKILL');
      };
      // 'close' follows 'exit' once the last output is read; a grandchild holding the pipes
      // open would delay it forever, so 'exit' settles it after a short grace.
      child.once('close', done);
      child.once('exit', (code, signal) => setTimeout(() => done(code, signal), 200).unref());
      child.once('error', (err) => {
        // Spawning failed (e.g. ENOENT): there will be no 'exit'.
        this.stderr += `\n${err.message}`;
        if (child.pid === undefined) {
          this.#closed = true;
          this.#unregister();
          resolve(-1);
        }
      });
    });
  }

  /** Starts `command args...` with piped stdin, stdout and stderr; killed at exit if still running. */
  static spawn(command: string, args: string[], options: SpawnOptions = {}): ManagedProcess {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new ManagedProcess(child);
  }

  /** Starts a Node.js script with this process's Node binary. */
  static node(script: string, args: string[], options: SpawnOptions = {}): ManagedProcess {
    return ManagedProcess.spawn(process.execPath, [script, ...args], options);
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return !this.#closed && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Waits until stdout or stderr matches `pattern`; returns the match.
   * @throws Error on timeout (or when the process exits first), with the captured output
   */
  async waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = (this.stdout + this.stderr).match(pattern);
      if (m) return m;
      const why = this.#closed
        ? `the process exited (${this.child.exitCode ?? this.child.signalCode}) before printing`
        : Date.now() >= deadline
          ? `timed out after ${timeoutMs} ms waiting for`
          : undefined;
      if (why) {
        throw new Error(
          `${why} output matching ${pattern}\n--- stdout ` +
            `---\n${this.stdout.slice(-2000)}\n--- stderr ---\n${this.stderr.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
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

  /** Same as {@link stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
