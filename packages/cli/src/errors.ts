/**
 * The cli package's errors. Each one is a sentence a person can act on: `main` prints it on
 * one line and exits (2 for a usage mistake, 1 for anything else); never a stack trace.
 */
import { BackbeatError, redactCredentials } from '@backbeat/core';

/** A flag or argument the user gave breaks its rule: one line on stderr, exit code 2. */
export class UsageError extends BackbeatError<{ flag: string }> {
  constructor(flag: string, rule: string) {
    super('BB_ERR_USAGE', `${flag}: ${rule}`, { flag });
  }
}

/**
 * A service cannot start: its port is taken, its address is not on this machine, or it may
 * not listen there. Raised before the service touches the cluster; exit code 1.
 */
export class StartupError extends BackbeatError<{ flag: string }> {
  constructor(flag: string, message: string, options?: { cause?: unknown }) {
    super('BB_ERR_STARTUP', `${flag}: ${message}`, { flag }, options);
  }
}

/** No NATS server answered at the given URL(s); exit code 1. */
export class NatsUnreachableError extends BackbeatError<{ url: string }> {
  constructor(url: string, reason: string, options?: { cause?: unknown }) {
    const shown = redactCredentials(url);
    super(
      'BB_ERR_NATS_UNREACHABLE',
      `cannot connect to NATS at ${shown}: ${redactCredentials(reason)} (start nats-server, or point --nats at yours)`,
      { url: shown },
      options,
    );
  }
}

/** NATS answered, but it holds no cluster by this id (no state bucket); exit code 1. */
export class ClusterNotFoundError extends BackbeatError<{ clusterId: string }> {
  constructor(clusterId: string, url: string) {
    super(
      'BB_ERR_CLUSTER_NOT_FOUND',
      `no cluster '${clusterId}' on NATS at ${redactCredentials(url)}: no pulse has run with ` +
        `--cluster ${clusterId} there (check --cluster, or start a pulse)`,
      { clusterId },
    );
  }
}

/** A terminal tool asked a service and got a refusal or no answer; exit code 1. */
export class CommandFailedError extends BackbeatError<{ status?: number }> {
  constructor(message: string, context: { status?: number } = {}, options?: { cause?: unknown }) {
    super('BB_ERR_COMMAND_FAILED', message, context, options);
  }
}

/** Error codes defined by the cli package. */
export const CLI_ERROR_CODES = {
  BB_ERR_USAGE: 'a command-line flag or argument breaks its rule',
  BB_ERR_STARTUP: 'a service cannot bind its port or address',
  BB_ERR_NATS_UNREACHABLE: 'no NATS server answered at the given URL',
  BB_ERR_CLUSTER_NOT_FOUND: 'NATS holds no cluster by the given id',
  BB_ERR_COMMAND_FAILED: 'a service refused or did not answer a terminal command',
} as const;
