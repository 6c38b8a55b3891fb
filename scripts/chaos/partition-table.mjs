/** The partition chaos table: which rows meet the bounds, and the table as printed. */

/**
 * A row passes the bounds a partition is to meet (docs/operations.md, The partition chaos table):
 * majority gap within TTL + 1 s, dual-leader window at most 1 s, no older term after a newer,
 * no SDK slot fired twice, one report per bar.
 */
export function rowOk(r) {
  return (
    r.gap_ms <= r.bound_ms &&
    r.dual_leader_ms <= 1000 &&
    r.older_term_after_newer === 0 &&
    Object.values(r.sdk).every((x) => x.twice === 0) &&
    r.bars_without_one_report === 0
  );
}

/** The table printed at the end of the run, one row per fault. */
export function formatTable(rows) {
  const head = [
    'fault',
    'majority gap ms (bound)',
    'dual-leader ms',
    'older term after newer (latest ms past deadline)',
    'terms',
    'sdk missed/twice h1 h2 h3',
    'claims acked/counted+late',
    'reports/bars',
    'ok',
  ];
  const lines = rows.map((r) => [
    `(${r.fault}) ${r.title}`,
    `${r.gap_ms} (${r.bound_ms})`,
    String(r.dual_leader_ms),
    `${r.older_term_after_newer} (${r.older_term_latest_ms})`,
    r.terms.join(','),
    Object.keys(r.sdk)
      .sort()
      .map((h) => `${r.sdk[h].missed}/${r.sdk[h].twice}`)
      .join(' '),
    `${r.claims_acked}/${r.claims_counted}+${r.claims_counted_late}`,
    `${r.reports}/${r.bars}`,
    rowOk(r) ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}
