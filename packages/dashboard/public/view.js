// The BACKBEAT dashboard's view: helpers and the functions that paint each part of the page
// from the server's data (app.js fetches it and calls them).
// Types (checked by `npm run lint`, public/tsconfig.json) are the server's own, from src/source.ts.
/** @typedef {import('../src/source.js').DashboardBeat} DashboardBeat */
/** @typedef {import('../src/source.js').DashboardCluster} DashboardCluster */
/** @typedef {import('../src/source.js').DashboardBar} DashboardBar */
/** @typedef {import('../src/source.js').DashboardDeadLetter} DashboardDeadLetter */
/** @typedef {import('@backbeat/contracts').BarReport & { state_counts?: Record<string, number> }} ShownReport */
/**
 * GET /api/v1/dashboard: the snapshot of the first paint.
 * @typedef {{ seq?: number, cluster: DashboardCluster | null, beat: DashboardBeat | null, bar: DashboardBar | null,
 *   delivery?: number[], jitter?: number[], reports?: ShownReport[], dead_letters?: DashboardDeadLetter[] }} Snapshot
 */
/**
 * GET /api/v1/updates: the events after a sequence number.
 * @typedef {{ seq: number, reset?: boolean, more?: boolean, events: Array<{ event: string, data: any }> }} Updates
 */

export const STATES = [
  'idle',
  'planning',
  'executing',
  'waiting',
  'reviewing',
  'completed',
  'failed',
  'blocked',
  'helping',
];
/**
 * The page's element `id` (the page always has it; a missing one is a bug of the page).
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @returns {T}
 */
export const $ = (id) => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no element #${id}`);
  return /** @type {T} */ (e);
};
/**
 * @param {string} tag
 * @param {string} [cls]
 * @param {string} [text]
 */
export const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
/**
 * snake_case and kebab-case names in words: "unsigned_accepted" -> "unsigned accepted".
 * @param {unknown} s
 */
const words = (s) => String(s).replace(/[_-]+/g, ' ');
/**
 * @param {number} n
 * @param {string} one
 */
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
/** @param {string | null | undefined} iso */
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');
/** @param {string | null | undefined} iso */
const ago = (iso) => {
  if (!iso) return '';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return s < 90
    ? `${Math.round(s)} s ago`
    : s < 5400
      ? `${Math.round(s / 60)} min ago`
      : `${Math.round(s / 3600)} h ago`;
};

/**
 * @type {{ reports: ShownReport[], letters: DashboardDeadLetter[], delivery: number[], jitter: number[],
 *   barLength: number,
 *   phases: readonly string[] }}
 */
export const state = {
  reports: [],
  letters: [],
  delivery: [],
  jitter: [],
  barLength: 8,
  phases: ['plan', 'execute', 'review'],
};

/** @param {DashboardCluster | null | undefined} c */
export function renderCluster(c) {
  if (!c) return;
  $('cluster').textContent = c.cluster_id;
  $('tempo').textContent = String(c.tempo_bpm ?? '–');
  $('leader').textContent = c.leader ?? 'none';
  $('term').textContent = String(c.term ?? '–');
  $('leader-since').textContent = c.leader_since ? `since ${time(c.leader_since)}` : '';
  $('pending').textContent = c.pending_bpm
    ? `→ ${c.pending_bpm} BPM at ${c.pending_at ? time(c.pending_at) : 'the next downbeat'}`
    : '';
  if (c.bar_length) state.barLength = c.bar_length;
  const submit = $('tempo-form').querySelector('button');
  if (submit) submit.disabled = !c.tempo_changes;
  if (!c.tempo_changes) $('tempo-result').textContent = 'tempo changes are not available from this server';
  renderNodes(c);
  $('timeline').replaceChildren(
    ...(c.leader_changes ?? []).map((t, i) => {
      const li = el('li', i === 0 ? 'lead' : '');
      li.textContent = `term ${t.term}: ${t.leader} leads since ${time(t.since)}${i === 0 ? ' (now)' : ''}`;
      return li;
    }),
  );
  $('failover-box').hidden = !c.failover;
}

/** @param {DashboardCluster} c */
function renderNodes(c) {
  $(/** @type {const} */ ('nodes'))
    .querySelector('tbody')
    ?.replaceChildren(
      ...(c.nodes ?? []).map((n) => {
        const tr = el('tr', n.is_leader ? 'lead' : '');
        tr.dataset.node = n.node_id;
        tr.append(
          el('td', 'id', n.node_id),
          el('td', '', n.kind === 'pulse' ? 'pulse node' : 'reverb replica'),
          el('td', '', n.is_leader ? `leader since ${time(c.leader_since)}` : words(n.role)),
        );
        tr.append(el('td', 'muted', `${n.detail}${n.updated_at ? `; seen ${ago(n.updated_at)}` : ''}`));
        return tr;
      }),
    );
  $('servers').replaceChildren(
    ...(c.servers ?? []).map((s) =>
      el(
        'li',
        '',
        `${s.name}${s.version ? ` (NATS ${s.version})` : ''}` +
          `${s.url && s.url !== s.name ? ` at ${s.url}` : ''}${s.connected ? ' — connected' : ''}`,
      ),
    ),
  );
}

/** @param {DashboardBeat | null | undefined} b */
export function renderBeat(b) {
  if (!b) return;
  state.barLength = b.bar_length;
  state.phases = b.phases;
  $('beat').textContent = `${b.beat_index} · ${b.phase}`;
  const src = $('source');
  src.textContent = b.source === 'leader' ? 'from the leader' : 'local clock';
  src.className = `badge ${b.source === 'leader' ? 'on' : 'local'}`;
  $('window').textContent = `window ${b.window_id.slice(0, 12)}`;
  const bar = $('bar');
  if (bar.children.length !== b.bar_length) {
    bar.replaceChildren(
      ...Array.from({ length: b.bar_length }, (_, i) => el('div', `beat${i === 0 ? ' down' : ''}`, String(i + 1))),
    );
  }
  const pos = b.beat_index % b.bar_length;
  [...bar.children].forEach(
    (c, i) => (c.className = `beat${i === 0 ? ' down' : ''}${i === pos ? ` now ${b.source}` : ''}`),
  );
  const ph = $('phases');
  if (ph.children.length !== b.phases.length) ph.replaceChildren(...b.phases.map((p) => el('div', 'phase', p)));
  [...ph.children].forEach((c) => (c.className = `phase${c.textContent === b.phase ? ' now' : ''}`));
}

/** @param {DashboardBeat} b */
export function onBeat(b) {
  renderBeat(b);
  if (b.source === 'leader') {
    push(state.delivery, b.delivery_ms, 300);
    if (b.jitter_ms !== null) push(state.jitter, b.jitter_ms, 300);
    renderHist('delivery', state.delivery);
    renderHist('jitter', state.jitter);
  }
}

/**
 * @template T
 * @param {T[]} list
 * @param {T} v
 * @param {number} max
 */
export function push(list, v, max) {
  list.push(v);
  if (list.length > max) list.shift();
}

/**
 * @param {number[]} sorted
 * @param {number} p
 */
function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
}

/**
 * @param {string} id
 * @param {number[]} values
 */
export function renderHist(id, values) {
  const sorted = [...values].sort((a, b) => a - b);
  const lo = Math.min(0, sorted[0] ?? 0);
  const hi = Math.max(1, pct(sorted, 99) || 1);
  const bins = new Array(30).fill(0);
  for (const v of values) bins[Math.min(29, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * 29)))]++;
  const top = Math.max(...bins, 1);
  $(id).replaceChildren(
    ...bins.map((n) => {
      const d = el('div');
      d.style.height = `${(n / top) * 100}%`;
      d.title = `${n}`;
      return d;
    }),
  );
  $(`${id}-axis`).replaceChildren(
    el('span', '', `${lo.toFixed(1)} ms`),
    el('span', '', `${((lo + hi) / 2).toFixed(1)} ms`),
    el('span', '', `${hi.toFixed(1)} ms`),
  );
  /** @param {number} p */
  const f = (p) => (values.length ? `${pct(sorted, p).toFixed(2)} ms` : '–');
  $(`${id}-stats`).textContent = values.length
    ? `${plural(values.length, 'beat')}: median ${f(50)}, p95 ${f(95)}, p99 ${f(99)}`
    : 'no beats from the leader yet';
}

/** @param {DashboardBar | null | undefined} bar */
export function renderBar(bar) {
  /** @type {HTMLTableElement} */
  const table = $('agents');
  const len = bar ? bar.to_beat - bar.from_beat + 1 : state.barLength;
  const head = el('tr');
  head.append(el('th', '', 'Agent'), ...Array.from({ length: len }, (_, i) => el('th', '', `beat ${i + 1}`)));
  table.tHead?.replaceChildren(head);
  const rows = Object.entries(bar?.agents ?? {}).sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }));
  table.tBodies[0]?.replaceChildren(
    ...rows.map(([id, a]) => {
      const tr = el('tr');
      tr.append(el('td', '', id), ...a.by_beat.map((s) => el('td', s ? `s s-${s}` : '', s ?? '')));
      return tr;
    }),
  );
}

export function renderReports() {
  // Newest first: the latest bar is always the first card, top left.
  const newest = [...state.reports].sort((a, b) => b.from_beat - a.from_beat).slice(0, 12);
  $('reports').replaceChildren(
    ...newest.map((r, i) => {
      const d = el('div', `report${i === 0 ? ' newest' : ''}`);
      d.dataset.window = r.window_id;
      d.dataset.fromBeat = String(r.from_beat);
      d.append(
        el('div', 'muted', `beats ${r.from_beat}–${r.to_beat}`),
        el('div', 'n', String(r.agents_reporting)),
        el('div', 'muted', r.agents_reporting === 1 ? 'agent reporting' : 'agents reporting'),
      );
      d.append(
        el('div', '', `on-time reviews: ${r.on_time_reviews}`),
        el('div', '', `help promises kept: ${r.help_promises_fulfilled}`),
        el('div', 'muted', `tempo drift ${r.tempo_drift_ms} ms`),
      );
      if (r.state_counts) {
        const parts = Object.entries(r.state_counts)
          .filter(([, n]) => n > 0)
          .map(([s, n]) => `${words(s)} ${n}`);
        if (parts.length) d.append(el('div', 'muted', parts.join(', ')));
      }
      const tags = el('div', 'tags');
      for (const i of r.issues) {
        const t = el('span', `sev sev-${i.severity}`, `${words(i.category)} × ${i.count}`);
        t.title = `${i.severity}: ${i.description}`;
        tags.append(t);
      }
      d.append(tags);
      return d;
    }),
  );
}

export function renderLetters() {
  const rows = [...state.letters].reverse().slice(0, 20);
  $('letters-empty').hidden = rows.length > 0;
  $(/** @type {const} */ ('letters'))
    .querySelector('tbody')
    ?.replaceChildren(
      ...rows.map((l) => {
        const tr = el('tr');
        tr.append(
          el('td', 'mono', time(l.time)),
          el('td', '', words(l.reason)),
          el('td', 'mono', l.agent_id ?? '–'),
          el('td', 'mono', `${l.error ? `${l.error}: ` : ''}${l.payload}`),
        );
        return tr;
      }),
    );
}
