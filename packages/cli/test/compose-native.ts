/**
 * Runs the services of deploy/docker-compose.yml natively, as docker compose would run them,
 * for deploy-run.test.ts (no Docker engine here): `${VAR}` substitutions from a given
 * environment, each container port mapped to a free loopback port, service host names
 * (`nats-1`, `pulse-1`) mapped to 127.0.0.1 and that port, `0.0.0.0` to 127.0.0.1 (tests use
 * loopback only), each volume to a temporary directory or a templated copy, and start order
 * and conditions from `depends_on` (deploy/README.md).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { freePort } from '@backbeat/testing';

/** One service of the compose file (the keys this project uses). */
export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[]; interval?: string; timeout?: string; retries?: number; start_period?: string };
  depends_on?: Record<string, { condition: 'service_started' | 'service_healthy' | 'service_completed_successfully' }>;
  restart?: string;
}

/** The compose file, substituted. */
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Compose's variable substitution: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?message}` and `${VAR?message}`.
 * @throws Error naming the variable when a required one is unset (compose refuses to start)
 */
export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): string {
  return text.replace(
    /\$(\$|[A-Za-z_][A-Za-z0-9_]*|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\})/g,
    (all, body: string, name?: string, op?: string, arg?: string) => {
      if (body === '$') return '$';
      const key = name ?? body;
      const value = env[key];
      const missing = op?.startsWith(':') ? !value : value === undefined;
      if (op?.endsWith('?') && missing) throw new Error(`required variable ${key} is missing a value: ${arg}`);
      if (op?.endsWith('-') && missing) return arg ?? '';
      return value ?? '';
    },
  );
}

/** Reads and substitutes the compose file (every string in it, as compose does). */
export function loadCompose(path: string, env: Readonly<Record<string, string | undefined>>): ComposeFile {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return interpolate(v, env);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(parse(readFileSync(path, 'utf8'))) as ComposeFile;
}

/**
 * The services in an order compose may start them: each after everything it depends on.
 * @throws Error on a cycle or a dependency that is not a service
 */
export function startOrder(compose: ComposeFile, names: readonly string[]): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string, from?: string) => {
    if (order.includes(name)) return;
    if (!compose.services[name]) throw new Error(`${from ?? 'the test'} depends on '${name}', which is not a service`);
    if (visiting.has(name)) throw new Error(`depends_on has a cycle through '${name}'`);
    visiting.add(name);
    for (const dep of Object.keys(compose.services[name].depends_on ?? {})) visit(dep, name);
    visiting.delete(name);
    order.push(name);
  };
  for (const n of names) visit(n);
  return order;
}

/** Compose durations such as `5s`, `300ms`, `1m`, in ms. */
export function durationMs(text: string | undefined, fallbackMs: number): number {
  if (!text) return fallbackMs;
  const m = /^(\d+)(ms|s|m)$/.exec(text);
  if (!m) throw new Error(`unsupported compose duration '${text}'`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
}

/**
 * How long compose waits for a service to turn healthy before it calls it unhealthy (and a
 * `service_healthy` dependant fails): the start period, then `retries` failed checks one
 * `interval` apart (compose's defaults: 0 s, 3 retries, 30 s).
 */
export function healthyWithinMs(hc: NonNullable<ComposeService['healthcheck']>): number {
  return durationMs(hc.start_period, 0) + (hc.retries ?? 3) * durationMs(hc.interval, 30_000);
}

/**
 * The host side of the compose network: every (service, container port) gets a free loopback
 * port, and text written for the inside of a container is rewritten for the host.
 */
export class HostMap {
  readonly #ports = new Map<string, number>();
  readonly #services: ReadonlySet<string>;
  /** Container path -> host path, per service (bind mounts and named volumes). */
  readonly #mounts = new Map<string, Array<[string, string]>>();

  constructor(compose: ComposeFile) {
    this.#services = new Set(Object.keys(compose.services));
  }

  /** The host port of `service`'s container port, picked on first use. */
  async port(service: string, containerPort: number): Promise<number> {
    const key = `${service}:${containerPort}`;
    let p = this.#ports.get(key);
    if (p === undefined) {
      p = await freePort();
      this.#ports.set(key, p);
    }
    return p;
  }

  /** Every port picked so far, as `service:containerPort -> hostPort`. */
  get ports(): ReadonlyMap<string, number> {
    return this.#ports;
  }

  /** Mounts `hostPath` at `containerPath` for `service`. */
  mount(service: string, containerPath: string, hostPath: string): void {
    const list = this.#mounts.get(service) ?? [];
    list.push([containerPath, hostPath]);
    list.sort((a, b) => b[0].length - a[0].length); // the longest container path wins
    this.#mounts.set(service, list);
  }

  /**
   * `text` as seen from the host, for the container of `self`: `<service>:<port>` after a
   * scheme to 127.0.0.1 and the service's host port; `0.0.0.0:<port>`, `127.0.0.1:<port>` and
   * `localhost:<port>` to the container's own host port; a bare `0.0.0.0` to 127.0.0.1; paths
   * under a mount to the host path.
   */
  async rewrite(self: string, text: string): Promise<string> {
    // One pass, so a rewritten address is never rewritten again.
    const re = /\b([a-z][a-z0-9+-]*):\/\/([a-z0-9-]+):(\d+)|(?<![\w.])(?:0\.0\.0\.0|127\.0\.0\.1|localhost):(\d+)/g;
    const parts: string[] = [];
    let last = 0;
    for (const m of text.matchAll(re)) {
      let to = m[0];
      if (m[4] !== undefined) to = `127.0.0.1:${await this.port(self, Number(m[4]))}`;
      else if (this.#services.has(m[2]!)) to = `${m[1]}://127.0.0.1:${await this.port(m[2]!, Number(m[3]))}`;
      parts.push(text.slice(last, m.index), to);
      last = m.index! + m[0].length;
    }
    let out = parts.join('') + text.slice(last);
    out = out.replace(/(?<![\w.])0\.0\.0\.0(?![\w.:])/g, '127.0.0.1');
    for (const [inside, host] of this.#mounts.get(self) ?? []) {
      const esc = inside.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      out = out.replace(new RegExp(`(?<=^|["'\\s=])${esc}(?=$|["'\\s/])`, 'g'), host);
    }
    return out;
  }

  /**
   * A command line (or health check) for the host: each argument rewritten, and a bare port after
   * a `--*-port` flag mapped.
   */
  async rewriteArgs(self: string, args: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      out.push(
        /^\d+$/.test(a) && /^--[a-z-]*port$/.test(args[i - 1] ?? '')
          ? String(await this.port(self, Number(a)))
          : await this.rewrite(self, a),
      );
    }
    return out;
  }

  /**
   * A templated copy of the bind-mounted directory or file `source` for `service` at `dest`:
   * every text file rewritten for the host (nats-server.conf). Mount every volume of the
   * service first, so that paths inside the files are mapped too.
   */
  async template(service: string, source: string, dest: string): Promise<void> {
    if (statSync(source).isDirectory()) {
      mkdirSync(dest, { recursive: true });
      for (const name of readdirSync(source)) await this.#templateFile(service, join(source, name), join(dest, name));
    } else {
      mkdirSync(dirname(dest), { recursive: true });
      await this.#templateFile(service, source, dest);
    }
  }

  async #templateFile(service: string, source: string, dest: string): Promise<void> {
    if (statSync(source).isDirectory()) {
      cpSync(source, dest, { recursive: true });
      return;
    }
    writeFileSync(dest, await this.rewrite(service, readFileSync(source, 'utf8')));
  }
}

/** A bind mount `./x:/y[:ro]` or named volume `name:/y` of a service. */
export function parseVolume(spec: string, composeDir: string): { source: string; inside: string; named: boolean } {
  const [source, inside] = spec.split(':');
  if (!source || !inside) throw new Error(`unsupported volume '${spec}'`);
  const named = !/^[./~]/.test(source);
  return { source: named ? source : resolve(composeDir, source), inside, named };
}

/** Runs a health check (`["CMD", program, ...args]`) on the host; true when it exits 0 within its timeout. */
export function runHealthcheck(test: readonly string[], timeoutMs: number): { ok: boolean; output: string } {
  if (test[0] !== 'CMD') throw new Error(`unsupported healthcheck form '${test[0]}' (only CMD)`);
  const [program, ...args] = test.slice(1);
  const r = spawnSync(program === 'node' ? process.execPath : program!, args, { encoding: 'utf8', timeout: timeoutMs });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

/**
 * A container-like environment for a child process: only PATH and HOME from this process, then
 * `env` (unset keys of this process are passed as undefined, which spawn leaves out).
 */
export function containerEnv(env: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const cleared = Object.fromEntries(Object.keys(process.env).map((k) => [k, undefined]));
  return { ...cleared, PATH: process.env.PATH, HOME: process.env.HOME, ...env };
}

/** `ENV` lines of a Dockerfile's last stage (`ENV A=1 B=2`). */
export function dockerfileEnv(dockerfile: string): Record<string, string> {
  const lastStage = dockerfile.split(/^FROM /m).at(-1) ?? '';
  const env: Record<string, string> = {};
  for (const [, line] of lastStage.matchAll(/^ENV (.+)$/gm))
    for (const [, k, v] of line!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) env[k!] = v!;
  return env;
}

/** `ENTRYPOINT ["a", "b"]` of a Dockerfile. */
export function dockerfileEntrypoint(dockerfile: string): string[] {
  const m = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
  if (!m) throw new Error('the Dockerfile has no exec-form ENTRYPOINT');
  return JSON.parse(m[1]!) as string[];
}
