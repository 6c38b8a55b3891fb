/** The phases of a beat, in order (INT-A `phase` enum). */
export const PHASES = ['plan', 'execute', 'review'] as const;
/** One phase name. */
export type Phase = (typeof PHASES)[number];

/**
 * The pulse seed's name for `execute`, accepted on the pulse command line only (docs/spec.md §11
 * Choices made where the sources disagreed).
 */
export const PHASE_ALIASES: Readonly<Record<string, Phase>> = Object.freeze({ work: 'execute' });

/** True when `name` is one of {@link PHASES}. */
export function isPhase(name: string): name is Phase {
  return (PHASES as readonly string[]).includes(name);
}
