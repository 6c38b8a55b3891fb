// Shared helpers of the benchmarks: percentiles and a side-by-side table.

/** p-th percentile (0..100) of numbers, nearest-rank. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

/** {n, p50, p95, p99, max} of a list, rounded to 3 decimals. */
export function summary(values) {
  const r = (x) => Math.round(x * 1000) / 1000;
  return { n: values.length, p50: r(percentile(values, 50)), p95: r(percentile(values, 95)), p99: r(percentile(values, 99)), max: r(Math.max(...values)) };
}

/** Prints rows of {name, ...summary} as an aligned table. */
export function printTable(title, rows, unit = 'ms') {
  console.log(`\n${title}`);
  const cols = ['n', 'p50', 'p95', 'p99', 'max'];
  const w = Math.max(...rows.map((r) => r.name.length), 10);
  console.log(`${'series'.padEnd(w)}  ${cols.map((c) => (c === 'n' ? c : `${c} ${unit}`).padStart(11)).join('')}`);
  for (const r of rows) console.log(`${r.name.padEnd(w)}  ${cols.map((c) => String(r[c]).padStart(11)).join('')}`);
}

/** summary() for lists of any length (sorted once, no spread): {n, p50, p95, p99, max}. */
export function summaryMany(values) {
  const s = Float64Array.from(values).sort();
  const r = (x) => Math.round(x * 1000) / 1000;
  const at = (p) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]);
  return { n: s.length, p50: r(at(50)), p95: r(at(95)), p99: r(at(99)), max: r(s.length === 0 ? NaN : s[s.length - 1]) };
}
