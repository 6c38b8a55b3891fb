/**
 * What every KV value gate returns, and the keys the pulse gates (docs/spec.md §7 Election,
 * terms and fencing, STYLE "one gate per trust boundary"). A gate returns the typed value or a
 * refusal naming the rule; nothing downstream re-checks, and a refused value never replaces the
 * last good one. The gates themselves live beside their readers: lease/lease-gates.ts and
 * tempo/tempo-gates.ts.
 */

/** A gate's answer: the checked value, or why it was refused. */
export type GateResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** The KV keys the pulse gates, as metric labels. */
export type GatedKey = 'leader' | 'leader-term' | 'tempo-map' | 'tempo-pending';
