// The BACKBEAT dashboard: a first paint from the /api/v1/dashboard snapshot, then live
// server-sent events. The event stream opens after the page has loaded and closes while the
// page is hidden, so a headless screenshot (or a background tab) is never kept busy by it.
const STATES = ['idle', 'planning', 'executing', 'waiting', 'reviewing', 'completed', 'failed', 'blocked', 'helping'];
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
/** snake_case and kebab-case names in words: "unsigned_accepted" -> "unsigned accepted". */
const words = (s) => String(s).replace(/[_-]+/g, ' ');
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');
const ago = (iso) => {
  if (!iso) return '';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return s < 90 ? `${Math.round(s)} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};

const state = { reports: [], letters: [], delivery: [], jitter: [], barLength: 8, phases: ['plan', 'execute', 'review'] };

function renderCluster(c) {
  if (!c) return;
  $('cluster').textContent = c.cluster_id;
  $('tempo').textContent = c.tempo_bpm ?? '–';
  $('leader').textContent = c.leader ?? 'none';
  $('term').textContent = c.term ?? '–';
  $('leader-since').textContent = c.leader_since ? `since ${time(c.leader_since)}` : '';
  $('pending').textContent = c.pending_bpm ? `→ ${c.pending_bpm} BPM at ${c.pending_at ? time(c.pending_at) : 'the next downbeat'}` : '';
  if (c.bar_length) state.barLength = c.bar_length;
  const form = $('tempo-form');
  form.querySelector('button').disabled = !c.tempo_changes;
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

function renderNodes(c) {
  $('nodes').tBodies[0].replaceChildren(
    ...(c.nodes ?? []).map((n) => {
      const tr = el('tr', n.is_leader ? 'lead' : '');
      tr.dataset.node = n.node_id;
      tr.append(el('td', 'id', n.node_id), el('td', '', n.kind === 'pulse' ? 'pulse node' : 'reverb replica'), el('td', '', n.is_leader ? `leader since ${time(c.leader_since)}` : words(n.role)));
      tr.append(el('td', 'muted', `${n.detail}${n.updated_at ? `; seen ${ago(n.updated_at)}` : ''}`));
      return tr;
    }),
  );
  $('servers').replaceChildren(...(c.servers ?? []).map((s) => el('li', '', `${s.name}${s.version ? ` (NATS ${s.version})` : ''}${s.url && s.url !== s.name ? ` at ${s.url}` : ''}${s.connected ? ' — connected' : ''}`)));
}

function renderBeat(b) {
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
    bar.replaceChildren(...Array.from({ length: b.bar_length }, (_, i) => el('div', `beat${i === 0 ? ' down' : ''}`, String(i + 1))));
  }
  const pos = b.beat_index % b.bar_length;
  [...bar.children].forEach((c, i) => (c.className = `beat${i === 0 ? ' down' : ''}${i === pos ? ` now ${b.source}` : ''}`));
  const ph = $('phases');
  if (ph.children.length !== b.phases.length) ph.replaceChildren(...b.phases.map((p) => el('div', 'phase', p)));
  [...ph.children].forEach((c) => (c.className = `phase${c.textContent === b.phase ? ' now' : ''}`));
}

function onBeat(b) {
  renderBeat(b);
  if (b.source === 'leader') {
    push(state.delivery, b.delivery_ms, 300);
    if (b.jitter_ms !== null) push(state.jitter, b.jitter_ms, 300);
    renderHist('delivery', state.delivery);
    renderHist('jitter', state.jitter);
  }
}

function push(list, v, max) {
  list.push(v);
  if (list.length > max) list.shift();
}

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
}

function renderHist(id, values) {
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
  $(`${id}-axis`).replaceChildren(el('span', '', `${lo.toFixed(1)} ms`), el('span', '', `${((lo + hi) / 2).toFixed(1)} ms`), el('span', '', `${hi.toFixed(1)} ms`));
  const f = (p) => (values.length ? `${pct(sorted, p).toFixed(2)} ms` : '–');
  $(`${id}-stats`).textContent = values.length ? `${plural(values.length, 'beat')}: median ${f(50)}, p95 ${f(95)}, p99 ${f(99)}` : 'no beats from the leader yet';
}

function renderBar(bar) {
  const table = $('agents');
  const len = bar ? bar.to_beat - bar.from_beat + 1 : state.barLength;
  const head = el('tr');
  head.append(el('th', '', 'Agent'), ...Array.from({ length: len }, (_, i) => el('th', '', `beat ${i + 1}`)));
  table.tHead.replaceChildren(head);
  const rows = Object.entries(bar?.agents ?? {}).sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }));
  table.tBodies[0].replaceChildren(
    ...rows.map(([id, a]) => {
      const tr = el('tr');
      tr.append(el('td', '', id), ...a.by_beat.map((s) => el('td', s ? `s s-${s}` : '', s ?? '')));
      return tr;
    }),
  );
}

function renderReports() {
  // Newest first: the latest bar is always the first card, top left.
  const newest = [...state.reports].sort((a, b) => b.from_beat - a.from_beat).slice(0, 12);
  $('reports').replaceChildren(
    ...newest.map((r, i) => {
      const d = el('div', `report${i === 0 ? ' newest' : ''}`);
      d.dataset.window = r.window_id;
      d.dataset.fromBeat = String(r.from_beat);
      d.append(el('div', 'muted', `beats ${r.from_beat}–${r.to_beat}`), el('div', 'n', String(r.agents_reporting)), el('div', 'muted', r.agents_reporting === 1 ? 'agent reporting' : 'agents reporting'));
      d.append(el('div', '', `on-time reviews: ${r.on_time_reviews}`), el('div', '', `help promises kept: ${r.help_promises_fulfilled}`), el('div', 'muted', `tempo drift ${r.tempo_drift_ms} ms`));
      if (r.state_counts) {
        const parts = Object.entries(r.state_counts).filter(([, n]) => n > 0).map(([s, n]) => `${words(s)} ${n}`);
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

function renderLetters() {
  const rows = [...state.letters].reverse().slice(0, 20);
  $('letters-empty').hidden = rows.length > 0;
  $('letters').tBodies[0].replaceChildren(
    ...rows.map((l) => {
      const tr = el('tr');
      tr.append(el('td', 'mono', time(l.time)), el('td', '', words(l.reason)), el('td', 'mono', l.agent_id ?? '–'), el('td', 'mono', `${l.error ? `${l.error}: ` : ''}${l.payload}`));
      return tr;
    }),
  );
}

$('legend').replaceChildren(...STATES.map((s) => el('span', `s-${s}`, s)));

const authHeaders = () => {
  const headers = { 'content-type': 'application/json' };
  if ($('token').value) headers.authorization = `Bearer ${$('token').value}`;
  return headers;
};

$('tempo-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const body = { tempo_bpm: Number(f.get('tempo_bpm')) };
  if (f.get('justification')) body.justification = String(f.get('justification'));
  const r = await fetch('/api/v1/tempo', { method: 'POST', headers: authHeaders(), body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  $('tempo-result').textContent = r.ok ? `accepted: ${body.tempo_bpm} BPM at the next downbeat` : `refused (${r.status}): ${j.message ?? j.error ?? ''}`;
});

$('failover').addEventListener('click', async () => {
  $('failover').disabled = true;
  $('failover-result').textContent = 'failing over…';
  const r = await fetch('/api/v1/dev/failover', { method: 'POST', headers: authHeaders(), body: '{}' });
  const j = await r.json().catch(() => ({}));
  $('failover-result').textContent = r.ok ? `${j.stopped} stepped down; ${j.new_leader ?? 'nobody'} leads; ${j.restarted_as} rejoined as a follower` : `refused (${r.status}): ${j.message ?? ''}`;
  $('failover').disabled = false;
  refreshCluster();
});

async function refreshCluster() {
  const snap = await (await fetch('/api/v1/dashboard')).json();
  renderCluster(snap.cluster);
}

// Live updates: a long-poll loop. Each request ends within ~0.3 s (the server answers as soon
// as something changes), so no request stays open: a background tab or a headless screenshot
// with a virtual-time budget is never kept busy. It pauses while the page is hidden.
let seq = 0;
let polling = false;
const POLL_GAP_MS = 100;
const handlers = {
  beat: onBeat,
  cluster: renderCluster,
  bar: renderBar,
  report: (r) => {
    state.reports.push(r);
    if (state.reports.length > 50) state.reports.shift();
    renderReports();
  },
  deadletter: (d) => {
    push(state.letters, d, 50);
    renderLetters();
  },
};
function setConn(text, on) {
  $('conn').textContent = text;
  $('conn').className = `badge ${on ? 'on' : 'off'}`;
}
async function pollLoop() {
  if (polling) return;
  polling = true;
  while (document.visibilityState !== 'hidden') {
    try {
      const r = await fetch(`/api/v1/updates?after=${seq}`);
      const u = await r.json();
      if (u.reset) await paint();
      else for (const e of u.events) handlers[e.event]?.(e.data);
      seq = Math.max(seq, u.seq);
      setConn('live', true);
      // A bounded page: when more events wait, ask again at once.
      if (!u.more) await new Promise((ok) => setTimeout(ok, POLL_GAP_MS));
    } catch {
      setConn('reconnecting', false);
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }
  setConn('paused while hidden', false);
  polling = false;
}
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'hidden') void pollLoop();
});

async function paint() {
  // First paint from the snapshot: beat, bar, tempo, leader, histograms, reports, dead letters.
  const snap = await (await fetch('/api/v1/dashboard')).json();
  seq = snap.seq ?? 0;
  renderCluster(snap.cluster);
  renderBeat(snap.beat);
  renderBar(snap.bar);
  state.delivery = [...(snap.delivery ?? [])];
  state.jitter = [...(snap.jitter ?? [])];
  renderHist('delivery', state.delivery);
  renderHist('jitter', state.jitter);
  state.reports = snap.reports ?? [];
  renderReports();
  state.letters = snap.dead_letters ?? [];
  renderLetters();
  document.body.dataset.painted = 'true';
}
// Live updates start once the page has loaded and its first paint is done.
const ready = paint().catch(() => {});
const go = () => ready.then(() => pollLoop());
if (document.readyState === 'complete') go();
else window.addEventListener('load', go);
