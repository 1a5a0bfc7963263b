#!/usr/bin/env node
// Saves docs/dashboard.png: the live dashboard of the embedded pipeline (`run`, no broker) with hourly and daily
// rollups, after about 20 s of history, in headless Chromium at 1440×1000, light mode.
//
//   node scripts/dashboard-screenshot.mjs [--seconds 20] [--out docs/dashboard.png]
//
// Needs Debian's chromium (scripts/setup.sh installs it; CHROMIUM_PATH points elsewhere) and playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    out: { type: 'string', default: join(ROOT, 'docs/dashboard.png') },
  },
});
const historyMs = Number(values.seconds) * 1000;
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const work = mkdtempSync(join(tmpdir(), 'ticketflow-screenshot-'));
const cli = spawn(
  process.execPath,
  [
    '--import',
    join(ROOT, 'examples/ticket-pipeline/src/early-signals.mjs'),
    '--conditions=ticketflow-source',
    '--import',
    'tsx',
    join(ROOT, 'examples/ticket-pipeline/src/cli.ts'),
    'run',
    '--window',
    '1s',
    '--rate',
    '400',
    '--seed',
    '42',
    '--bad-fraction',
    '0.02',
    '--rollups',
    'hour,day',
    '--http-port',
    '0',
    '--out',
    join(work, 'out'),
  ],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
);
let output = '';
cli.stdout.setEncoding('utf8').on('data', (text) => (output += text));
cli.stderr.setEncoding('utf8').on('data', (text) => (output += text));
const exited = new Promise((done) => cli.on('close', (code, signal) => done({ code, signal })));

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
let browser;
try {
  let port;
  for (const started = Date.now(); port === undefined; await sleep(100)) {
    port = /http listening on :(\d+)/.exec(output)?.[1];
    if (cli.exitCode !== null) throw new Error(`the pipeline exited early:\n${output}`);
    if (Date.now() - started > 30_000) throw new Error(`no "http listening on :PORT" line:\n${output}`);
  }
  console.log(
    `dashboard-screenshot: pipeline on http://127.0.0.1:${port}/, waiting ${historyMs / 1000} s for history`,
  );
  await sleep(historyMs);

  browser = await chromium.launch({ executablePath, headless: true });
  const page = await browser.newPage({
    viewport: { width: 1440, height: 1000 },
    colorScheme: 'light',
    locale: 'en-US',
    deviceScaleFactor: 1,
  });
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
  await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' });
  await page.getByTestId('chart-tickets').locator('canvas').first().waitFor({ timeout: 10_000 });
  await sleep(3_000); // a few live batches after the history
  await page.screenshot({ path: values.out });
  if (problems.length > 0) console.warn(`dashboard-screenshot: the page reported:\n${problems.join('\n')}`);
  console.log(`dashboard-screenshot: saved ${values.out}`);
} finally {
  await browser?.close();
  cli.kill('SIGTERM');
  const { code, signal } = await exited;
  rmSync(work, { recursive: true, force: true });
  if (code !== 0) {
    console.error(`dashboard-screenshot: the pipeline exited with ${code ?? signal}:\n${output}`);
    process.exitCode = 1;
  }
}
