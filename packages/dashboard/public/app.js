// The BACKBEAT dashboard: a first paint from the /api/v1/dashboard snapshot, then live
// updates (long-poll). They start after the page has loaded and pause while the page is
// hidden, so a headless screenshot (or a background tab) is never kept busy by them. What each
// part of the page shows is painted by view.js.
import {
  $,
  STATES,
  el,
  onBeat,
  push,
  renderBar,
  renderBeat,
  renderCluster,
  renderHist,
  renderLetters,
  renderReports,
  state,
} from './view.js';

/** @typedef {import('./view.js').ShownReport} ShownReport */
/** @typedef {import('../src/source.js').DashboardDeadLetter} DashboardDeadLetter */
/** @typedef {import('./view.js').Snapshot} Snapshot */
/** @typedef {import('./view.js').Updates} Updates */

$('legend').replaceChildren(...STATES.map((s) => el('span', `s-${s}`, s)));

const authHeaders = () => {
  /** @type {Record<string, string>} */
  const headers = { 'content-type': 'application/json' };
  /** @type {HTMLInputElement} */
  const token = $('token');
  if (token.value) headers.authorization = `Bearer ${token.value}`;
  return headers;
};

$('tempo-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(/** @type {HTMLFormElement} */ (e.target));
  /** @type {{ tempo_bpm: number, justification?: string }} */
  const body = { tempo_bpm: Number(f.get('tempo_bpm')) };
  if (f.get('justification')) body.justification = String(f.get('justification'));
  const r = await fetch('/api/v1/tempo', { method: 'POST', headers: authHeaders(), body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  $('tempo-result').textContent = r.ok
    ? `accepted: ${body.tempo_bpm} BPM at the next downbeat`
    : `refused (${r.status}): ${j.message ?? j.error ?? ''}`;
});

$('failover').addEventListener('click', async () => {
  /** @type {HTMLButtonElement} */
  const button = $('failover');
  button.disabled = true;
  $('failover-result').textContent = 'failing over…';
  const r = await fetch('/api/v1/dev/failover', { method: 'POST', headers: authHeaders(), body: '{}' });
  const j = await r.json().catch(() => ({}));
  $('failover-result').textContent = r.ok
    ? `${j.stopped} stepped down; ${j.new_leader ?? 'nobody'} leads; ${j.restarted_as} rejoined as a follower`
    : `refused (${r.status}): ${j.message ?? ''}`;
  button.disabled = false;
  void refreshCluster();
});

async function refreshCluster() {
  /** @type {Snapshot} */
  const snap = await (await fetch('/api/v1/dashboard')).json();
  renderCluster(snap.cluster);
}

// Live updates: a long-poll loop. Each request ends within ~0.3 s (the server answers as soon
// as something changes), so no request stays open: a background tab or a headless screenshot
// with a virtual-time budget is never kept busy. It pauses while the page is hidden.
let seq = 0;
let polling = false;
const POLL_GAP_MS = 100;
/** @type {Record<string, (data: any) => void>} */
const handlers = {
  beat: onBeat,
  cluster: renderCluster,
  bar: renderBar,
  report: (/** @type {ShownReport} */ r) => {
    state.reports.push(r);
    if (state.reports.length > 50) state.reports.shift();
    renderReports();
  },
  deadletter: (/** @type {DashboardDeadLetter} */ d) => {
    push(state.letters, d, 50);
    renderLetters();
  },
};
/**
 * @param {string} text
 * @param {boolean} on
 */
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
      /** @type {Updates} */
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
  /** @type {Snapshot} */
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
if (document.readyState === 'complete') void go();
else window.addEventListener('load', go);
