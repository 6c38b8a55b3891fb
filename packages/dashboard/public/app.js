// The BACKBEAT dashboard: a snapshot from /api/v1/dashboard, then live server-sent events.
const STATES = ['idle', 'planning', 'executing', 'waiting', 'reviewing', 'completed', 'failed', 'blocked', 'helping'];
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

const state = { bar: null, reports: [], delivery: [], jitter: [], beat: null, barLength: 8, phases: ['plan', 'execute', 'review'] };

function renderCluster(c) {
  $('cluster').textContent = c.cluster_id;
  $('tempo').textContent = c.tempo_bpm ?? '–';
  $('leader').textContent = c.leader ?? 'none';
  $('term').textContent = c.term ?? '–';
  $('pending').textContent = c.pending_bpm ? `→ ${c.pending_bpm} BPM at ${c.pending_at ? new Date(c.pending_at).toLocaleTimeString() : 'next downbeat'}` : '';
  if (c.bar_length) state.barLength = c.bar_length;
  const form = $('tempo-form');
  form.querySelector('button').disabled = !c.tempo_changes;
  if (!c.tempo_changes) $('tempo-result').textContent = 'tempo changes are not available from this server';
}

function renderBeat(b) {
  state.beat = b;
  state.barLength = b.bar_length;
  state.phases = b.phases;
  $('beat').textContent = `${b.beat_index} · ${b.phase}`;
  const src = $('source');
  src.textContent = b.source;
  src.className = `badge ${b.source === 'leader' ? 'on' : 'local'}`;
  $('window').textContent = b.window_id.slice(0, 12);
  const bar = $('bar');
  if (bar.children.length !== b.bar_length) {
    bar.replaceChildren(...Array.from({ length: b.bar_length }, (_, i) => el('div', `beat${i === 0 ? ' down' : ''}`, String(i + 1))));
  }
  const pos = b.beat_index % b.bar_length;
  [...bar.children].forEach((c, i) => (c.className = `beat${i === 0 ? ' down' : ''}${i === pos ? ` now ${b.source}` : ''}`));
  const ph = $('phases');
  if (ph.children.length !== b.phases.length) ph.replaceChildren(...b.phases.map((p) => el('div', 'phase', p)));
  [...ph.children].forEach((c) => (c.className = `phase${c.textContent === b.phase ? ' now' : ''}`));
  if (b.source === 'leader') {
    push(state.delivery, b.delivery_ms);
    if (b.jitter_ms !== null) push(state.jitter, b.jitter_ms);
    renderHist('delivery', state.delivery);
    renderHist('jitter', state.jitter);
  }
}

function push(list, v) {
  list.push(v);
  if (list.length > 300) list.shift();
}

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
}

function renderHist(id, values) {
  const sorted = [...values].sort((a, b) => a - b);
  const max = Math.max(1, pct(sorted, 99));
  const bins = new Array(30).fill(0);
  for (const v of values) bins[Math.min(29, Math.max(0, Math.floor((v / max) * 29)))]++;
  const top = Math.max(...bins, 1);
  $(id).replaceChildren(...bins.map((n) => {
    const d = el('div');
    d.style.height = `${(n / top) * 100}%`;
    return d;
  }));
  $(`${id}-stats`).textContent = `n ${values.length}  p50 ${pct(sorted, 50)?.toFixed(2)}  p95 ${pct(sorted, 95)?.toFixed(2)}  p99 ${pct(sorted, 99)?.toFixed(2)}  (0 … ${max.toFixed(2)} ms)`;
}

function renderBar(bar) {
  state.bar = bar;
  const table = $('agents');
  const len = bar ? bar.to_beat - bar.from_beat + 1 : state.barLength;
  const head = el('tr');
  head.append(el('th', '', 'agent'), ...Array.from({ length: len }, (_, i) => el('th', '', String(i + 1))));
  table.tHead.replaceChildren(head);
  const rows = Object.entries(bar?.agents ?? {}).sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }));
  table.tBodies[0].replaceChildren(
    ...rows.map(([id, a]) => {
      const tr = el('tr');
      tr.append(el('td', '', id), ...a.by_beat.map((s) => el('td', s ? `s s-${s}` : '', s ? s.slice(0, 4) : '')));
      return tr;
    }),
  );
}

function renderReports() {
  $('reports').replaceChildren(
    ...state.reports.slice(-12).map((r) => {
      const d = el('div', 'report');
      d.dataset.window = r.window_id;
      d.append(el('div', 'muted', `beats ${r.from_beat}–${r.to_beat}`), el('div', 'n', String(r.agents_reporting)), el('div', 'muted', 'agents reporting'));
      d.append(el('div', '', `on-time reviews ${r.on_time_reviews}`), el('div', '', `help kept ${r.help_promises_fulfilled}`), el('div', 'muted', `drift ${r.tempo_drift_ms} ms`));
      const sev = el('div');
      for (const i of r.issues) sev.append(el('span', `sev sev-${i.severity}`, `${i.category} ${i.count}`));
      d.append(sev);
      return d;
    }),
  );
}

$('legend').replaceChildren(...STATES.map((s) => el('span', `s-${s}`, s)));

$('tempo-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const headers = { 'content-type': 'application/json' };
  if (f.get('token')) headers.authorization = `Bearer ${f.get('token')}`;
  const body = { tempo_bpm: Number(f.get('tempo_bpm')) };
  if (f.get('justification')) body.justification = String(f.get('justification'));
  const r = await fetch('/api/v1/tempo', { method: 'POST', headers, body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  $('tempo-result').textContent = r.ok ? `accepted: ${body.tempo_bpm} BPM at the next downbeat` : `refused (${r.status}): ${j.message ?? j.error ?? ''}`;
});

async function start() {
  const snap = await (await fetch('/api/v1/dashboard')).json();
  renderCluster(snap.cluster);
  renderBar(snap.bar);
  state.reports = snap.reports;
  renderReports();
  const es = new EventSource('/api/v1/events');
  es.addEventListener('open', () => {
    $('conn').textContent = 'live';
    $('conn').className = 'badge on';
  });
  es.addEventListener('error', () => {
    $('conn').textContent = 'reconnecting';
    $('conn').className = 'badge off';
  });
  es.addEventListener('beat', (e) => renderBeat(JSON.parse(e.data)));
  es.addEventListener('cluster', (e) => renderCluster(JSON.parse(e.data)));
  es.addEventListener('bar', (e) => renderBar(JSON.parse(e.data)));
  es.addEventListener('report', (e) => {
    state.reports.push(JSON.parse(e.data));
    if (state.reports.length > 50) state.reports.shift();
    renderReports();
  });
}
start();
