/** Ordering of wire HLC strings without parsing them. */

/** Orders two wire HLCs (contract-valid) like compareHlc, without parsing: group by group, as hex numbers. */
export function compareHlcText(a: string, b: string): number {
  if (a === b) return 0;
  // Groups of equal widths (the common case: one agent's clock, zero-padded): lowercase hex
  // of equal widths orders as text.
  if (a.length === b.length && a.indexOf(':') === b.indexOf(':') && a.lastIndexOf(':') === b.lastIndexOf(':'))
    return a < b ? -1 : 1;
  const x = a.split(':');
  const y = b.split(':');
  for (let i = 0; i < 3; i++) {
    const p = (x[i] ?? '').replace(/^0+(?=.)/, '');
    const q = (y[i] ?? '').replace(/^0+(?=.)/, '');
    if (p.length !== q.length) return p.length < q.length ? -1 : 1;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}
