/**
 * Bounds for what the dashboard keeps and serves of outside input (docs/spec.md §10 Security):
 * agent ids, reasons and header values come from any login that can publish, so every string
 * is cut to a sane length and every list and map to a sane size before it is buffered.
 */

/** Longest string kept (characters); longer ones end in `…`. */
export const MAX_STRING = 256;
/** Most items of a list, or entries of a map, kept. */
export const MAX_ENTRIES = 512;
/** Deepest nesting kept; anything deeper becomes null. */
export const MAX_DEPTH = 8;

/** A copy of `value` with every string, list and map cut to the bounds above. */
export function clip(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING - 1)}…` : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return null;
  if (Array.isArray(value)) return value.slice(0, MAX_ENTRIES).map((v) => clip(v, depth + 1));
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, v] of Object.entries(value)) {
    if (n++ >= MAX_ENTRIES) break;
    out[clip(k) as string] = clip(v, depth + 1);
  }
  return out;
}
