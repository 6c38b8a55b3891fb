/**
 * Defaults every BACKBEAT package shares, named once (docs/spec.md §5 The beat grid and the tempo
 * map and §11 Choices made where the sources disagreed). A component that needs one imports it from
 * here instead of writing the literal again.
 */

/** Cluster id used when none is given (the seeds' example cluster). */
export const DEFAULT_CLUSTER_ID = 'chorus-aus-01';

/** Beats per bar when the tempo map does not say (pulse `--bar`, docs/spec.md §5 The beat grid and the tempo map). */
export const DEFAULT_BAR_LENGTH = 8;

/** Lifecycle of every long-running BACKBEAT component (pulse, reverb, SDK client). */
export type LifecycleState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';
