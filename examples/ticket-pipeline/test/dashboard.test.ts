import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listeningPort, type RunningCli, scrape } from './ops/ops-support';
import { startCli } from './support/cli';
import { waitFor } from './support/wait';

/**
 * The live dashboard (packages/ops/dashboard, served by `--http-port`) in a real headless Chromium, driven by
 * playwright-core, against the embedded pipeline (`run`, no broker). Chromium is Debian's package, installed by
 * scripts/setup.sh; `CHROMIUM_PATH` points elsewhere.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The charts the embedded pipeline feeds; `chart-lag` is Kafka's only (the embedded source reports no lag). */
const CHARTS = ['chart-tickets', 'chart-rates', 'chart-durations', 'chart-values', 'chart-keyed'];

let dir: string;
let cli: RunningCli | undefined;
let browser: Browser | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-dashboard-'));
});
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  if (cli && cli.child.exitCode === null && cli.child.signalCode === null) {
    cli.child.kill('SIGKILL');
    await cli.done;
  }
  cli = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** The number an element shows: its `data-value` when it has one, else the first number of its text. */
async function numberIn(page: Page, testId: string): Promise<number | undefined> {
  const element = page.getByTestId(testId);
  const value = await element.getAttribute('data-value', { timeout: 1_000 });
  if (value !== null && value !== '') return Number(value);
  const match = /\d[\d,]*/.exec((await element.textContent({ timeout: 1_000 })) ?? '');
  return match ? Number(match[0].replaceAll(',', '')) : undefined;
}

/** The text of an element. */
async function textOf(page: Page, testId: string): Promise<string> {
  return (await page.getByTestId(testId).textContent({ timeout: 1_000 })) ?? '';
}

/** What the test uses of a DOM canvas (the test's TypeScript settings have no DOM library). */
interface Canvas {
  readonly width: number;
  readonly height: number;
  getBoundingClientRect(): { readonly width: number; readonly height: number };
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}

/** Width, height and painted pixels of every canvas inside an element. */
function canvasesOf(page: Page, testId: string) {
  return page.getByTestId(testId).evaluate((root) =>
    Array.from(
      (root as unknown as { querySelectorAll(s: 'canvas'): Iterable<Canvas> }).querySelectorAll('canvas'),
      (canvas) => {
        const box = canvas.getBoundingClientRect();
        const pixels = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        if (pixels) for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
        return { width: box.width, height: box.height, painted };
      },
    ),
  );
}

describe('the live dashboard in a browser', () => {
  it('loads from the processor alone, draws its charts, matches /metrics and follows new batches', async () => {
    expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (scripts/setup.sh installs it)`).toBe(true);
    cli = startCli(
      ['run', '--window', '1s', '--rate', '300', '--seed', '12', '--rollups', 'hour,day'].concat([
        '--http-port',
        '0',
        '--out',
        join(dir, 'out'),
      ]),
      { keepInputOpen: true },
    );
    const port = await Promise.race([
      listeningPort(cli),
      cli.done.then((r) => Promise.reject(new Error(`the CLI exited with ${r.code}:\n${r.stderr}`))),
    ]);
    const origin = `http://127.0.0.1:${port}`;
    // Two batches first, so the page's history has something to draw.
    await waitFor(
      async () => ((await scrape(port)).get('ticketflow_batches_total') ?? 0) >= 2,
      'two batches',
      20_000,
    );

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    const context = await browser.newContext({
      locale: 'en-US',
      colorScheme: 'light',
      viewport: { width: 1440, height: 1000 },
    });
    const requests: string[] = [];
    const consoleErrors: string[] = [];
    const pageErrors: string[] = [];
    const badResponses: string[] = [];
    // Every request is recorded; one leaving the machine is also refused, so the test never depends on a network.
    await context.route('**/*', (route) =>
      route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort('blockedbyclient'),
    );
    const page = await context.newPage();
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => pageErrors.push(String(error.stack ?? error)));
    page.on('response', (response) => {
      if (response.status() >= 400) badResponses.push(`${response.status()} ${response.url()}`);
    });

    const loaded = await page.goto(`${origin}/`, { waitUntil: 'load' });
    expect(loaded?.status()).toBe(200);
    await page.evaluate(() => {
      (globalThis as unknown as { notReloaded: boolean }).notReloaded = true;
    });

    // The header: health, source, batch, totals, and with rollups the watermark.
    await expect.poll(() => textOf(page, 'health'), { timeout: 10_000 }).toMatch(/ok/i);
    expect((await textOf(page, 'source')).trim()).not.toBe('');
    await expect.poll(() => numberIn(page, 'last-batch'), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    await expect.poll(() => textOf(page, 'watermark'), { timeout: 10_000 }).toMatch(/\d/);
    await expect.poll(() => textOf(page, 'late-total'), { timeout: 10_000 }).toMatch(/\d/);
    await expect
      .poll(() => page.getByTestId('windows-table').locator('tbody tr').count(), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(1);

    // Every chart is a uPlot canvas with a size and something painted on it.
    for (const chart of CHARTS) {
      await expect
        .poll(
          async () =>
            (await canvasesOf(page, chart)).some((c) => c.width > 0 && c.height > 0 && c.painted > 0),
          {
            timeout: 10_000,
            message: `${chart} has a drawn canvas`,
          },
        )
        .toBe(true);
    }
    expect(await page.locator('.uplot').count()).toBeGreaterThanOrEqual(CHARTS.length);
    // The embedded source reports no consumer lag: the lag chart says so instead of drawing an empty plot.
    expect(await textOf(page, 'chart-lag')).toMatch(/no lag/i);

    // The records total counts the records read, valid and invalid, in committed batches (`Totals.records`),
    // as /metrics' ticketflow_records_total does; the invalid total as ticketflow_invalid_records_total.
    // Compared between batches: page, /metrics, page again, until all three agree.
    const agreed = await waitFor(
      async () => {
        const before = await numberIn(page, 'records-total');
        const metrics = await scrape(port);
        const after = await numberIn(page, 'records-total');
        const invalidShown = await numberIn(page, 'invalid-total');
        const records = metrics.get('ticketflow_records_total') ?? Number.NaN;
        const invalid = metrics.get('ticketflow_invalid_records_total') ?? Number.NaN;
        return before === after && before === records && invalidShown === invalid
          ? { shown: before, records, invalid }
          : undefined;
      },
      'the records total on the page to equal /metrics',
      8_000,
    );
    expect(agreed.shown).toBeGreaterThan(0);
    expect((await textOf(page, 'records-total')).trim()).toBe(
      new Intl.NumberFormat('en-US').format(agreed.shown as number),
    );

    // A new batch shows up without a reload.
    const lastBatch = (await numberIn(page, 'last-batch')) as number;
    await expect.poll(() => numberIn(page, 'last-batch'), { timeout: 5_000 }).toBeGreaterThan(lastBatch);
    await expect
      .poll(() => numberIn(page, 'records-total'), { timeout: 5_000 })
      .toBeGreaterThan(agreed.shown as number);
    expect(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );

    expect(consoleErrors).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(badResponses).toEqual([]);
    expect(requests.filter((url) => !url.startsWith(`${origin}/`))).toEqual([]);
    expect(requests).toContain(`${origin}/events`);
    expect(requests.some((url) => url.startsWith(`${origin}/vendor/`))).toBe(true);

    // SIGTERM with the page still connected: the open /events stream does not hold the process up.
    const stopped = Date.now();
    cli.child.kill('SIGTERM');
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(10_000);
  }, 45_000);
});
