/**
 * Defaults every BACKBEAT package shares, named once (SPEC 4 and 11). A component that needs
 * one imports it from here instead of writing the literal again.
 */

/** Cluster id used when none is given (the seeds' example cluster). */
export const DEFAULT_CLUSTER_ID = 'chorus-aus-01';

/** Beats per bar when the tempo map does not say (pulse `--bar`, SPEC 4). */
export const DEFAULT_BAR_LENGTH = 8;

/** Lifecycle of every long-running BACKBEAT component (pulse, reverb, SDK client). */
export type LifecycleState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';
