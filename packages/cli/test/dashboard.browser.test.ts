import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagedProcess, NatsServer, waitFor } from '@backbeat/testing';
import { NatsBus, subjects } from '@backbeat/transport';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));
const shots = fileURLToPath(new URL('../../../test-results/', import.meta.url));
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const STATES = ['idle', 'planning', 'executing', 'waiting', 'reviewing', 'completed', 'failed', 'blocked', 'helping'];
let server: NatsServer;
let bus: NatsBus;
let dev: ManagedProcess;
let browser: Browser;
let launching: Promise<Browser> | undefined;
let url: string;

beforeAll(async () => {
  server = await NatsServer.start();
  bus = await NatsBus.connect({ servers: server.url });
  dev = ManagedProcess.node(
    bin,
    ['dev', '--port', '0', '--bpm', '240', '--bar', '4', '--agents', '5', '--pulse-nodes', '2', '--nats', server.url],
    { env: { BACKBEAT_LOG_FORMAT: 'json', BACKBEAT_ADMIN_TOKEN: '' } },
  );
  // The browser starts while dev starts and its first bars pass.
  launching = chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  launching.catch(() => {}); // awaited below (and in afterAll, to close it whatever happened)
  url = (await dev.waitForOutput(/dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/, 20_000))[1]!;
  // Two bar reports exist before any page opens, so the first paint has something to show.
  await waitFor(
    async () =>
      ((await (await fetch(`${url}api/v1/dashboard`)).json()) as { reports: unknown[] }).reports.length >= 2
        ? true
        : null,
    { timeoutMs: 20_000, message: 'two bar reports' },
  );
  browser = await launching;
}, 60_000);

afterAll(async () => {
  await (await launching?.catch(() => undefined))?.close();
  await dev?.stop();
  await bus?.close();
  await server?.stop();
});

/** Elements whose content is wider than their own box (clipped or overflowing), as "tag.class: text". */
async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    if (document.documentElement.scrollWidth > window.innerWidth)
      out.push(`page: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
    for (const e of Array.from(document.querySelectorAll('body *')) as HTMLElement[]) {
      if (e.closest('[hidden]') || e.clientWidth === 0 || ['HTML', 'BODY'].includes(e.tagName)) continue;
      if (e.scrollWidth > e.clientWidth + 1)
        out.push(
          `${e.tagName.toLowerCase()}.${e.className}: '${(e.textContent ?? '').slice(0, 40)}' ` +
            `${e.scrollWidth} > ${e.clientWidth}`,
        );
    }
    return out;
  });
}

describe('dashboard - in a real headless browser against backbeat dev', () => {
  it(
    'dashboard - the first paint comes from the snapshot: beat, leader, ' +
      'tempo, histograms and reports before any live event',
    async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      try {
        await page.route('**/api/v1/updates*', (route) => route.abort()); // no live events at all
        await page.goto(url);
        await page.waitForSelector('body[data-painted=true]', { timeout: 10_000 });
        expect(await page.textContent('#beat')).toMatch(/^\d+ · (plan|execute|review)$/);
        expect(await page.textContent('#leader')).toMatch(/^pulse-[12]$/);
        expect(await page.textContent('#tempo')).toBe('240');
        expect((await page.$$('#reports .report')).length).toBeGreaterThanOrEqual(2);
        const bars = await page.$$eval('#delivery div', (ds) =>
          ds.map((d) => parseFloat((d as HTMLElement).style.height)),
        );
        expect(bars).toHaveLength(30);
        expect(Math.max(...bars)).toBeGreaterThan(0);
        expect(await page.textContent('#delivery-axis')).toMatch(/ms.*ms.*ms/);
        expect(await page.textContent('#delivery-stats')).toMatch(/beats: median [\d.]+ ms/);
      } finally {
        await page.close();
      }
    },
  );

  for (const width of [1280, 1920]) {
    it(
      `dashboard - at ${width} px: newest report first, nothing clipped or ` +
        'overflowing, labels in words, the cluster panel names the leader',
      async () => {
        const page = await browser.newPage({ viewport: { width, height: 1000 } });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        try {
          await page.goto(url);
          await page.waitForSelector('#conn.on', { timeout: 10_000 });
          const first = await page.textContent('#beat');
          await waitFor(async () => (await page.textContent('#beat')) !== first, {
            timeoutMs: 5000,
            message: 'the beat to advance',
          });
          await waitFor(async () => (await page.$$('#agents tbody tr')).length === 5, {
            timeoutMs: 10_000,
            message: 'five agents',
          });
          const n = (await page.$$('#reports .report')).length;
          await waitFor(async () => ((await page.$$('#reports .report')).length > n || n >= 12 ? true : null), {
            timeoutMs: 10_000,
            message: 'a live bar report',
          });

          const order = await page.$$eval('#reports .report', (rs) =>
            rs.map((r) => Number((r as HTMLElement).dataset.fromBeat)),
          );
          expect(order).toEqual([...order].sort((a, b) => b - a));
          expect(await page.getAttribute('#reports .report:first-child', 'class')).toContain('newest');

          expect(await overflowing(page)).toEqual([]);
          const cells = await page.$$eval('#agents td.s', (ts) => ts.map((t) => t.textContent));
          expect(cells.length).toBeGreaterThan(0);
          for (const c of cells) expect(STATES).toContain(c);
          const visible = await page.evaluate(() => document.querySelector('main')!.innerText);
          expect(visible).not.toMatch(/[a-z]_[a-z]/); // no snake_case on screen

          const leader = (await page.textContent('#leader'))!;
          expect(await page.textContent('#nodes tr.lead td:first-child')).toBe(leader);
          expect(await page.textContent('#nodes tr.lead')).toMatch(/leader since/);
          expect(await page.$$eval('#nodes tbody tr', (rs) => rs.map((r) => (r as HTMLElement).dataset.node))).toEqual(
            expect.arrayContaining(['pulse-1', 'pulse-2', 'reverb-dev']),
          );
          expect(await page.textContent('#servers')).toMatch(/NATS 2\.\d+.*connected/);
          expect(await page.textContent('#timeline li:first-child')).toContain(leader);

          mkdirSync(shots, { recursive: true });
          await page.screenshot({ path: join(shots, `dashboard-${width}.png`), fullPage: true });
          expect(errors).toEqual([]);
        } finally {
          await page.close();
        }
      },
    );
  }

  it('dashboard - a refused claim shows in the dead-letter panel with its reason', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(url);
      await page.waitForSelector('#conn.on', { timeout: 10_000 });
      await bus.publishDurable(subjects('dev').status, new TextEncoder().encode('{ this is not a claim'), {
        msgId: `bad-${Date.now()}`,
      });
      await waitFor(async () => (await page.$$('#letters tbody tr')).length > 0, {
        timeoutMs: 10_000,
        message: 'a dead letter row',
      });
      expect(await page.textContent('#letters tbody tr:first-child')).toMatch(/malformed/);
      expect(await page.isHidden('#letters-empty')).toBe(true);
    } finally {
      await page.close();
    }
  });

  it(
    'dashboard - the failover button hands the lead over, the timeline ' +
      'shows the change, the tempo form is accepted',
    async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      try {
        await page.goto(url);
        await page.waitForSelector('#conn.on', { timeout: 10_000 });
        expect(await page.isVisible('#failover')).toBe(true);
        const before = (await page.textContent('#leader'))!;
        await page.click('#failover');
        await waitFor(async () => /leads/.test((await page.textContent('#failover-result')) ?? ''), {
          timeoutMs: 10_000,
          message: 'the failover result',
        });
        await waitFor(async () => ((await page.textContent('#leader')) !== before ? true : null), {
          timeoutMs: 10_000,
          message: 'a new leader on the page',
        });
        await waitFor(async () => (await page.$$('#timeline li')).length >= 2, {
          timeoutMs: 10_000,
          message: 'two leaderships in the timeline',
        });
        expect(await page.textContent('#timeline li:nth-child(2)')).toContain(before);
        // The tempo change comes after the failover: a pulse that starts while a change is
        // pending crashes on main today (reported to the pulse owner).
        await page.fill('input[name=tempo_bpm]', '250');
        await page.click('#tempo-form button');
        await waitFor(async () => /accepted/.test((await page.textContent('#tempo-result')) ?? ''), {
          timeoutMs: 5000,
          message: 'the tempo change to be accepted',
        });
      } finally {
        await page.close();
      }
    },
  );

  it('dashboard - chromium --headless --screenshot --virtual-time-budget=5000 finishes', async () => {
    mkdirSync(shots, { recursive: true });
    const out = join(shots, 'dashboard-virtual-time.png');
    const profile = mkdtempSync(join(tmpdir(), 'bb-chromium-'));
    const p = ManagedProcess.spawn(chromiumPath, [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      `--user-data-dir=${profile}`,
      '--window-size=1280,1600',
      `--screenshot=${out}`,
      '--virtual-time-budget=5000',
      url,
    ]);
    try {
      const code = await Promise.race([p.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 40_000))]);
      expect(code).toBe(0);
      expect(statSync(out).size).toBeGreaterThan(10_000);
    } finally {
      await p.stop();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 60_000);
});
