/** @backbeat/cli: the `backbeat` command. Run `backbeat --help`. */
export { main, runCli, buildProgram } from './main.js';
export type { CliOutput } from './output.js';
export { intFlag, numberFlag } from './usage.js';
export {
  UsageError,
  StartupError,
  NatsUnreachableError,
  ClusterNotFoundError,
  CommandFailedError,
  CLI_ERROR_CODES,
} from './errors.js';
export { readClusterStatus } from './cluster-status.js';
export type { ClusterStatus, LeaderView, NodeView, ServerView, StoreView } from './cluster-status.js';
export { deadLetterOf, readDeadLetters, followDeadLetters } from './dead-letters.js';
export type { DeadLetter } from './dead-letters.js';
