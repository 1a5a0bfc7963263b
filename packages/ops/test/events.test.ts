import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { BatchProgress, PipelineEvent } from '@ticketflow/core';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { BatchView, DashboardHistory, DashboardStatus, WindowView } from '../src/dashboard';
import { type Operations, type ServeOperationsOptions, serveOperations } from '../src/operations';
import { httpGet, sseClient } from './support';

const SECRET = 'hunter2-s3cr3t-password';

function progress(batchId: number, extra: Partial<BatchProgress> = {}): BatchProgress {
  return {
    batchId,
    windowStart: new Date(Date.UTC(2026, 2, 1, 10, 0, batchId * 30)),
    windowEnd: new Date(Date.UTC(2026, 2, 1, 10, 0, batchId * 30 + 30)),
    inputRecords: 100,
    records: 98,
    invalidRecords: 2,
    inputRecordsPerSecond: 100 / 30,
    processedRecordsPerSecond: 5000,
    durationMs: { fold: 10, plan: 1, deadLetters: 2, write: 5, commit: 3, acknowledge: 1, total: 22 },
    replayed: false,
    // Neither the batch's output path nor its raw metrics go to the dashboard.
    output: `s3://bucket/${SECRET}/batch_${batchId}.json`,
    metrics: { total: 98, p50: 4, note: SECRET, teams: { 'Billing Team': 60, 'Network Team': 38 } },
    ...extra,
  };
}

type Metrics = { total: number; p50: number; teams: Record<string, number> };

const view = (m: unknown) => {
  const metrics = m as Metrics;
  return {
    values: { 'SLA p50 (h)': metrics.p50, 'not a number': Number.NaN },
    keyed: { 'tickets per team': metrics.teams },
  };
};

let running: Operations | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function serve(events$: Subject<PipelineEvent>, options: Partial<ServeOperationsOptions> = {}) {
  running = await serveOperations({
    events$,
    port: 0,
    sourceName: 'kafka:client_tickets',
    windowMs: 30_000,
    dashboard: { title: 'tickets', view },
    ...options,
  });
  return running;
}

const BATCH_KEYS = [
  'batchId',
  'windowStart',
  'windowEnd',
  'inputRecords',
  'records',
  'invalidRecords',
  'inputRecordsPerSecond',
  'processedRecordsPerSecond',
  'durationMs',
  'replayed',
  'lostRecords',
  'watermark',
  'late',
  'values',
  'keyed',
  'openWindows',
].sort();

describe('/events', () => {
  it('sends the history first, then batch, window and status events as one-line JSON', async () => {
    const events$ = new Subject<PipelineEvent>();
    const ops = await serve(events$);
    events$.next({ type: 'started', source: 'kafka:client_tickets', checkpoint: 'file:cp' });
    events$.next({
      type: 'source-status',
      status: {
        connected: true,
        lag: [
          { lane: 'client_tickets/0', lag: 5 },
          { lane: 'client_tickets/1', lag: 0 },
        ],
      },
    });
    events$.next({ type: 'batch-committed', batch: progress(0) });
    const client = await sseClient(ops.server?.port as number);
    try {
      expect(client.headers).toMatch(/^HTTP\/1\.1 200/);
      expect(client.headers).toMatch(/content-type: text\/event-stream/i);
      const [history] = await client.waitFor(1);
      expect(history?.event).toBe('history');
      const h = history?.data as DashboardHistory;
      expect(Object.keys(h).sort()).toEqual(
        ['title', 'source', 'health', 'totals', 'batches', 'windows', 'lag'].sort(),
      );
      expect(h).toMatchObject({
        title: 'tickets',
        source: 'kafka:client_tickets',
        health: { status: 'ok', healthy: true, source: { name: 'kafka:client_tickets', connected: true } },
        totals: {
          batches: 1,
          records: 100,
          invalid: 2,
          late: null,
          lastBatchId: 0,
          watermark: null,
        },
        windows: [],
        lag: [
          { lane: 'client_tickets/0', lag: 5 },
          { lane: 'client_tickets/1', lag: 0 },
        ],
      });
      expect(h.totals.lastBatchAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(h.batches).toHaveLength(1);
      const first = h.batches[0] as BatchView;
      expect(Object.keys(first).sort()).toEqual(BATCH_KEYS);
      expect(first).toEqual({
        batchId: 0,
        windowStart: '2026-03-01T10:00:00.000Z',
        windowEnd: '2026-03-01T10:00:30.000Z',
        inputRecords: 100,
        records: 98,
        invalidRecords: 2,
        inputRecordsPerSecond: 100 / 30,
        processedRecordsPerSecond: 5000,
        durationMs: { fold: 10, plan: 1, deadLetters: 2, write: 5, commit: 3, acknowledge: 1, total: 22 },
        replayed: false,
        lostRecords: 0,
        watermark: null,
        late: null,
        values: { 'SLA p50 (h)': 4, 'not a number': null },
        keyed: { 'tickets per team': { 'Billing Team': 60, 'Network Team': 38 } },
        openWindows: [],
      });

      // Live: a batch with event-time windows, its final window, and a status change.
      const open = {
        name: 'hourly',
        windowStart: new Date(Date.UTC(2026, 2, 1, 11)),
        windowEnd: new Date(Date.UTC(2026, 2, 1, 12)),
        records: 7,
      };
      events$.next({
        type: 'batch-committed',
        batch: progress(1, {
          watermark: new Date(Date.UTC(2026, 2, 1, 11, 5)),
          lateRecords: { hourly: 3, daily: 1 },
          openWindows: [open],
        }),
      });
      events$.next({
        type: 'window-finalized',
        batchId: 1,
        window: {
          name: 'hourly',
          windowStart: new Date(Date.UTC(2026, 2, 1, 10)),
          windowEnd: new Date(Date.UTC(2026, 2, 1, 11)),
          records: 180,
          output: 'out/hourly/dt=2026-03-01/hour=10/metrics.json',
        },
      });
      events$.next({ type: 'source-status', status: { connected: false, lag: [] } });
      const events = await client.waitFor(4);
      const live = events.slice(1);
      // The lost connection is sent at once (with the batch's totals, which would otherwise follow
      // within a second).
      expect(live.map((e) => e.event)).toEqual(['batch', 'window', 'status']);
      for (const e of events) expect(e.raw).not.toMatch(/\n/);
      const batch = live[0]?.data as BatchView;
      expect(Object.keys(batch).sort()).toEqual(BATCH_KEYS);
      expect(batch).toMatchObject({
        batchId: 1,
        watermark: '2026-03-01T11:05:00.000Z',
        late: 3,
        openWindows: [
          {
            name: 'hourly',
            windowStart: '2026-03-01T11:00:00.000Z',
            windowEnd: '2026-03-01T12:00:00.000Z',
            records: 7,
          },
        ],
      });
      expect(live[1]?.data as WindowView).toEqual({
        batchId: 1,
        name: 'hourly',
        windowStart: '2026-03-01T10:00:00.000Z',
        windowEnd: '2026-03-01T11:00:00.000Z',
        records: 180,
        output: 'out/hourly/dt=2026-03-01/hour=10/metrics.json',
      });
      const statuses = live.slice(2).map((e) => e.data as DashboardStatus);
      for (const s of statuses)
        expect(Object.keys(s).sort()).toEqual(['connected', 'health', 'lag', 'totals']);
      const last = statuses.find((s) => s.connected === false) as DashboardStatus;
      expect(last).toMatchObject({
        connected: false,
        lag: [],
        health: { status: 'failing', reasons: ['the source lost its connection to the brokers'] },
        totals: {
          batches: 2,
          records: 200,
          invalid: 4,
          late: 3,
          lastBatchId: 1,
          watermark: '2026-03-01T11:05:00.000Z',
        },
      });
    } finally {
      client.close();
    }
  });

  it('keeps only the last historySize batches and 200 final windows for late joiners', async () => {
    const events$ = new Subject<PipelineEvent>();
    const ops = await serve(events$, { historySize: 5 });
    for (let id = 0; id < 12; id++) events$.next({ type: 'batch-committed', batch: progress(id) });
    for (let i = 0; i < 250; i++)
      events$.next({
        type: 'window-finalized',
        batchId: 11,
        window: {
          name: 'hourly',
          windowStart: new Date(i * 3_600_000),
          windowEnd: new Date((i + 1) * 3_600_000),
          records: i,
          output: `hourly/${i}`,
        },
      });
    const client = await sseClient(ops.server?.port as number);
    try {
      const [history] = await client.waitFor(1);
      const h = history?.data as DashboardHistory;
      expect(h.batches.map((b) => b.batchId)).toEqual([7, 8, 9, 10, 11]);
      expect(h.windows).toHaveLength(200);
      expect(h.windows[0]?.records).toBe(50);
      expect(h.windows[199]?.records).toBe(249);
      expect(h.totals).toMatchObject({ batches: 12, records: 1200, lastBatchId: 11 });
    } finally {
      client.close();
    }
  });

  it('never sends a record, an output path of a batch or a secret', async () => {
    const events$ = new Subject<PipelineEvent>();
    const ops = await serve(events$);
    const client = await sseClient(ops.server?.port as number);
    try {
      await client.waitFor(1);
      events$.next({ type: 'records-read', lane: 'client_tickets/0', records: 3 });
      events$.next({ type: 'batch-committed', batch: progress(0) });
      const events = await client.waitFor(3);
      const text = events.map((e) => e.raw).join('\n');
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('note');
      expect(text).not.toContain('batch_0.json');
    } finally {
      client.close();
    }
  });

  it('disconnects a client that never reads, keeping memory bounded and never slowing the pipeline', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const events$ = new Subject<PipelineEvent>();
    const ops = await serve(events$, { historySize: 10 });
    const port = ops.server?.port as number;

    // A raw client that sends its request, then never reads a byte.
    const slow = connect(port, '127.0.0.1');
    let slowClosed = false;
    slow.on('close', () => {
      slowClosed = true;
    });
    slow.on('error', () => {});
    await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
    slow.pause();
    slow.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    for (let i = 0; i < 100 && ops.eventClients < 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ops.eventClients).toBe(1);

    // Batches with big keyed maps: about 10 KB each, 200 MB in all.
    const teams: Record<string, number> = {};
    for (let i = 0; i < 400; i++) teams[`support team number ${i}`] = i;
    const batch = (id: number) => progress(id, { metrics: { total: 1, p50: 1, teams } });
    gc();
    const before = process.memoryUsage();
    const started = performance.now();
    for (let id = 0; id < 20_000; id++) events$.next({ type: 'batch-committed', batch: batch(id) });
    const elapsed = performance.now() - started;
    gc();
    const after = process.memoryUsage();

    // Emitting never waited for the client, and its queue was bounded: it was dropped.
    expect(elapsed).toBeLessThan(10_000);
    const grown = after.heapUsed + after.external - (before.heapUsed + before.external);
    expect(grown).toBeLessThan(40 * 1024 * 1024);
    expect(ops.eventClients).toBe(0);
    // Its connection is closed: reading now gets what was sent before, then the end.
    let received = 0;
    slow.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    slow.resume();
    for (let i = 0; i < 500 && !slowClosed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(slowClosed).toBe(true);
    expect(received).toBeLessThan(50 * 1024 * 1024);
  });
});

describe('dashboard files', () => {
  it('serves the page at /, uPlot from the installed package, and 404 for anything else', async () => {
    const ops = await serve(new Subject<PipelineEvent>());
    const port = ops.server?.port as number;
    const page = await httpGet(port, '/');
    expect(page.status).toBe(200);
    expect(page.contentType).toMatch(/^text\/html/);
    expect(page.body).toMatch(/<html/i);
    const uplot = await httpGet(port, '/vendor/uPlot.iife.min.js');
    expect(uplot.status).toBe(200);
    expect(uplot.contentType).toMatch(/^text\/javascript/);
    expect(uplot.body).toContain('uPlot');
    const css = await httpGet(port, '/vendor/uPlot.min.css');
    expect(css.status).toBe(200);
    expect(css.contentType).toMatch(/^text\/css/);
    const script = await httpGet(port, '/dashboard.js');
    expect(script.status).toBe(200);
    expect(script.contentType).toMatch(/^text\/javascript/);
    for (const path of ['/nope', '/vendor/uPlot.cjs.js', '/../package.json', '/dashboard/index.html']) {
      const missing = await httpGet(port, path);
      expect(missing.status, path).toBe(404);
      expect(JSON.parse(missing.body)).toMatchObject({ error: 'not found' });
    }
    expect((await httpGet(port, '/healthz')).status).toBe(503);
    expect((await httpGet(port, '/metrics')).status).toBe(200);
  });
});
