// @ts-check
// The emitters bench/pulse.mjs compares, each run in its own forked process: the Pulse with its
// emitter thread, the sleep-then-spin baseline, and the naive setInterval ticker.
import { Pulse } from '@backbeat/pulse';
import { NatsBus } from '@backbeat/transport';
import { BPM, now, PHASE_MS, reportWhenAsked, startLoad } from './common.mjs';

const enc = new TextEncoder();

/**
 * @param {string} url
 * @param {boolean} load
 */
export async function pulseChild(url, load) {
  const bus = await NatsBus.connect({ servers: url });
  /** @type {number[]} */
  const jitter = [];
  const cluster = load ? 'benchload' : 'bench';
  // The pulse checks the value (one line naming --beat-fencing for anything else).
  const beatFencing = /** @type {import('@backbeat/pulse').BeatFencing | undefined} */ (
    process.env.BENCH_BEAT_FENCING || undefined
  );
  const pulse = new Pulse({
    ...{
      bus,
      clusterId: cluster,
      nodeId: cluster,
      bpm: BPM,
      maxBpm: BPM,
      elector: 'single',
      emitterNats: { servers: url },
    },
    beatFencing,
    onPublished: (e) => jitter.push(e.publishedAt - e.scheduledAt),
  });
  await pulse.start();
  /** The emitter thread's load counters (there once the thread is up). */
  const loadNow = () => {
    const l = pulse.emitterStatus().load;
    if (!l) throw new Error('the emitter thread reports no load');
    return l;
  };
  while (!pulse.emitterStatus().load) await new Promise((r) => setTimeout(r, 20)); // the thread is up
  const load0 = loadNow();
  const timer = load ? startLoad() : undefined;
  reportWhenAsked(
    jitter,
    async () => {
      clearInterval(timer);
      await pulse.stop();
      await bus.close();
    },
    () => {
      // The emitter thread's busy share of the measured window (its own thread: nothing else runs there).
      const l = loadNow();
      const active = l.active - load0.active;
      const wall = active + l.idle - load0.idle;
      // CPU the OS gave the thread (Linux); its event loop's busy share counts blocked waits too.
      const cpu = l.cpuMs !== undefined && load0.cpuMs !== undefined ? ((l.cpuMs - load0.cpuMs) / wall) * 100 : null;
      return {
        emitter_pct: cpu ?? (active / wall) * 100,
        emitter_loop_busy_pct: (active / wall) * 100,
        emitter_cpu_measured: cpu !== null,
        where: pulse.emitterStatus().where,
      };
    },
  );
}

/**
 * @param {string} url
 * @param {boolean} load
 */
export async function spinChild(url, load) {
  const bus = await NatsBus.connect({ servers: url });
  const subject = load ? 'bench.spinload' : 'bench.spin';
  /** @type {number[]} */
  const jitter = [];
  const start = Math.ceil(now() / 1000) * 1000 + 1000;
  let n = 0;
  let stopped = false;
  const arm = () => {
    const t = start + n * PHASE_MS;
    setTimeout(
      () => {
        const poll = () => {
          if (stopped) return;
          if (now() < t) return void setImmediate(poll);
          const t0 = now();
          bus.publish(subject, enc.encode(JSON.stringify({ n, scheduled: t, sent: t0 })));
          jitter.push(t0 - t);
          n++;
          arm();
        };
        poll();
      },
      Math.max(0, t - now() - 2),
    );
  };
  arm();
  const timer = load ? startLoad() : undefined;
  reportWhenAsked(jitter, async () => {
    stopped = true;
    clearInterval(timer);
    await bus.close();
  });
}

/** @param {string} url */
export async function tickerChild(url) {
  // The naive emitter: setInterval at the phase period. Node keeps whole milliseconds of a
  // delay (166.67 ms runs as 166), so its ticks creep ahead of the grid and most go out early.
  const bus = await NatsBus.connect({ servers: url });
  /** @type {number[]} */
  const jitter = [];
  const start = Math.ceil(now() / 1000) * 1000 + 1000;
  await new Promise((r) => setTimeout(r, start - now()));
  let n = 0;
  const timer = setInterval(() => {
    const scheduled = start + (n + 1) * PHASE_MS; // setInterval first fires one period after it is set
    const t0 = now();
    bus.publish('bench.ticker', enc.encode(JSON.stringify({ n, scheduled })));
    jitter.push(t0 - scheduled);
    n++;
  }, PHASE_MS);
  reportWhenAsked(jitter, async () => {
    clearInterval(timer);
    await bus.close();
  });
}
