/**
 * Secrets (admin tokens, NATS passwords, tokens and nkey seeds) from a flag, a file or the
 * environment (docs/spec.md §10 Security), so a deployment need not put them on a command line
 * that `ps` shows. The first that is set wins: `--x`, `--x-file`, env `X`, env `X_FILE`.
 */
import { readFileSync } from 'node:fs';
import { adminTokenProblem } from '@backbeat/core';
import { UsageError } from './errors.js';

/** Where one secret may come from. */
export interface SecretSource {
  /** The value flag, e.g. `--admin-token`, and its value. */
  readonly flag: string;
  readonly value: string | undefined;
  /** The file flag, e.g. `--admin-token-file`, and its value. */
  readonly fileFlag: string;
  readonly file: string | undefined;
  /** The environment variable, e.g. `BACKBEAT_ADMIN_TOKEN`; `<env>_FILE` names a file. */
  readonly env: string;
}

/**
 * The secret, or undefined when none is given. A file holds the secret alone; surrounding
 * whitespace (a final newline) is dropped.
 * @throws UsageError naming the flag (or variable) when both a value and a file are given, or
 *   the file cannot be read or is empty
 */
export function readSecret(s: SecretSource, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (s.value !== undefined && s.file !== undefined)
    throw new UsageError(s.fileFlag, `give ${s.flag} or ${s.fileFlag}, not both`);
  if (s.value !== undefined) return s.value;
  if (s.file !== undefined) return fromFile(s.fileFlag, s.file);
  const direct = env[s.env];
  if (direct !== undefined && direct !== '') return direct;
  const file = env[`${s.env}_FILE`];
  if (file !== undefined && file !== '') return fromFile(`${s.env}_FILE`, file);
  return undefined;
}

function fromFile(flag: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(flag, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const secret = text.trim();
  if (secret === '') throw new UsageError(flag, `${file} is empty`);
  return secret;
}

/** The admin token flags of a service command. */
export interface AdminTokenFlags {
  adminToken?: string;
  adminTokenFile?: string;
}

/** Adds `--admin-token` and `--admin-token-file` (env BACKBEAT_ADMIN_TOKEN, BACKBEAT_ADMIN_TOKEN_FILE). */
export function addAdminTokenFlags<C extends { option(flags: string, description: string): C }>(
  cmd: C,
  what: string,
): C {
  return cmd
    .option(
      '--admin-token <token>',
      `bearer token for ${what}; visible in ps: prefer --admin-token-file or BACKBEAT_ADMIN_TOKEN`,
    )
    .option('--admin-token-file <file>', 'file holding the admin token (or BACKBEAT_ADMIN_TOKEN_FILE)');
}

/**
 * The admin token from `--admin-token`, `--admin-token-file`, BACKBEAT_ADMIN_TOKEN or
 * BACKBEAT_ADMIN_TOKEN_FILE, checked against the token rule.
 * @throws UsageError naming the flag
 */
export function adminTokenOf(f: AdminTokenFlags, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = readSecret(
    {
      flag: '--admin-token',
      value: f.adminToken,
      fileFlag: '--admin-token-file',
      file: f.adminTokenFile,
      env: 'BACKBEAT_ADMIN_TOKEN',
    },
    env,
  );
  const problem = token === undefined ? undefined : adminTokenProblem(token);
  if (problem) throw new UsageError('--admin-token', problem);
  return token;
}
