// @ts-check
// Shared helpers of the benchmarks: a summary of percentiles and a side-by-side table.

/** @typedef {{ n: number, p50: number, p95: number, p99: number, max: number }} Summary */

/**
 * Prints rows of {name, ...summary} as an aligned table.
 * @param {string} title
 * @param {Array<{ name: string } & Record<string, unknown>>} rows
 */
export function printTable(title, rows, unit = 'ms') {
  console.log(`\n${title}`);
  const cols = ['n', 'p50', 'p95', 'p99', 'max'];
  const w = Math.max(...rows.map((r) => r.name.length), 10);
  console.log(`${'series'.padEnd(w)}  ${cols.map((c) => (c === 'n' ? c : `${c} ${unit}`).padStart(11)).join('')}`);
  for (const r of rows) console.log(`${r.name.padEnd(w)}  ${cols.map((c) => String(r[c]).padStart(11)).join('')}`);
}

/**
 * {n, p50, p95, p99, max} of a list of any length (sorted once, no spread), rounded to 3 decimals.
 * @param {ArrayLike<number>} values
 * @returns {Summary}
 */
export function summary(values) {
  const s = Float64Array.from(values).sort();
  /** @param {number} x */
  const r = (x) => Math.round(x * 1000) / 1000;
  /** @param {number} p */
  const at = (p) =>
    s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return {
    n: s.length,
    p50: r(at(50)),
    p95: r(at(95)),
    p99: r(at(99)),
    max: r(s.length === 0 ? NaN : s[s.length - 1]),
  };
}
