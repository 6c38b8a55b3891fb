import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagedProcess, waitFor } from '@backbeat/testing';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));
const shots = fileURLToPath(new URL('../../../test-results/', import.meta.url));
let dev: ManagedProcess;
let browser: Browser;
let url: string;

beforeAll(async () => {
  dev = ManagedProcess.node(bin, ['dev', '--port', '0', '--bpm', '120', '--bar', '4', '--agents', '5', '--pulse-nodes', '2'], { env: { BACKBEAT_LOG_FORMAT: 'json' } });
  url = (await dev.waitForOutput(/dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/, 20_000))[1]!;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await dev?.stop();
});

describe('dashboard - in a real headless browser against backbeat dev', () => {
  it('dashboard - the beat advances, agents show their states and a bar report appears', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('#conn.on', { timeout: 10_000 });
    const first = await page.textContent('#beat');
    await waitFor(async () => (await page.textContent('#beat')) !== first, { timeoutMs: 5000, message: 'the beat to advance' });
    await waitFor(async () => (await page.$$('#reports .report')).length > 0, { timeoutMs: 15_000, message: 'a bar report' });
    await waitFor(async () => (await page.$$('#agents tbody tr')).length === 5, { timeoutMs: 10_000, message: 'five agents' });
    expect(await page.textContent('#leader')).toMatch(/^pulse-[12]$/);
    expect(await page.textContent('#tempo')).toBe('120');
    expect(await page.$$('#bar .beat')).toHaveLength(4);
    expect(await page.$$('#bar .beat.now')).toHaveLength(1);
    expect(Number((await page.textContent('#reports .report .n'))!)).toBeGreaterThanOrEqual(0);
    await page.fill('input[name=tempo_bpm]', '130');
    await page.click('#tempo-form button');
    await waitFor(async () => /accepted/.test((await page.textContent('#tempo-result')) ?? ''), { timeoutMs: 5000, message: 'the tempo change to be accepted' });
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'dashboard.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('backbeat dev - failover demo', () => {
  it('dev - POST /api/v1/dev/failover hands the lead to the other pulse node', async () => {
    const before = (await (await fetch(`${url}api/v1/dashboard`)).json()).cluster;
    const r = await (await fetch(`${url}api/v1/dev/failover`, { method: 'POST' })).json();
    expect(r.stopped).toBe(before.leader);
    expect(r.new_leader).not.toBeNull();
    expect(r.new_leader).not.toBe(before.leader);
    await waitFor(async () => (await (await fetch(`${url}api/v1/dashboard`)).json()).cluster.term > before.term, { timeoutMs: 5000, message: 'a new term' });
  });
});
