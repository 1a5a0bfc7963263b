import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listeningPort, type RunningCli, scrape } from './ops/ops-support';
import { startCli } from './support/cli';
import { waitFor } from './support/wait';

/**
 * `/events` of the real processor (`run`, the embedded generator, no broker) while a client connects and
 * never reads. The server-side disconnection of such a client needs more unsent bytes than this pipeline
 * sends in seconds (the kernel alone buffers megabytes on loopback); it is covered with big events in
 * packages/ops/test/events.test.ts. Here: the pipeline keeps its pace, its memory stays put, a reading
 * client still gets every batch, and SIGTERM is not held up by the stalled connection.
 */
const RATE = 4000;
const WINDOW_MS = 250;
const STALL_MS = 5000;

let dir: string;
let cli: RunningCli | undefined;
const sockets: Socket[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-sse-'));
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  if (cli && cli.child.exitCode === null && cli.child.signalCode === null) {
    cli.child.kill('SIGKILL');
    await cli.done;
  }
  cli = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A batch as a reading client received it, and when. */
interface Received {
  readonly at: number;
  readonly batchId: number;
  readonly inputRecords: number;
}

/** An `/events` client that reads everything, keeping its `batch` events. */
function readingClient(port: number): { batches: Received[]; events: string[]; close(): void } {
  const batches: Received[] = [];
  const events: string[] = [];
  let buffer = '';
  const req = request({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
    res.setEncoding('utf8').on('data', (text: string) => {
      buffer += text;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = /^event: (.*)$/m.exec(message)?.[1];
        const data = /^data: (.*)$/m.exec(message)?.[1];
        if (name === undefined || data === undefined) continue;
        events.push(name);
        if (name === 'batch') {
          const batch = JSON.parse(data) as { batchId: number; inputRecords: number };
          batches.push({ at: Date.now(), batchId: batch.batchId, inputRecords: batch.inputRecords });
        }
      }
    });
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.end();
  return { batches, events, close: () => req.destroy() };
}

/** Records per batch and batches per second over the batches received in `[from, to)`. */
function pace(batches: readonly Received[], from: number, to: number) {
  const within = batches.filter((b) => b.at >= from && b.at < to);
  const perBatch = within.reduce((sum, b) => sum + b.inputRecords, 0) / Math.max(within.length, 1);
  return { batches: within.length, perBatch, perSecond: (within.length * 1000) / (to - from) };
}

describe('/events with a client that never reads', () => {
  it('keeps the pipeline at its pace and its memory bounded, and does not hold up SIGTERM', async () => {
    cli = startCli(
      [
        'run',
        '--window',
        `${WINDOW_MS}ms`,
        '--rate',
        String(RATE),
        '--seed',
        '4',
        '--rollups',
        'hour,day',
      ].concat(['--http-port', '0', '--out', join(dir, 'out')]),
      { keepInputOpen: true },
    );
    const port = await Promise.race([
      listeningPort(cli),
      cli.done.then((r) => Promise.reject(new Error(`the CLI exited with ${r.code}:\n${r.stderr}`))),
    ]);
    const metric = async (name: string) => (await scrape(port)).get(name) ?? Number.NaN;
    await waitFor(async () => (await metric('ticketflow_batches_total')) >= 4, 'four batches', 20_000);

    const reader = readingClient(port);
    await waitFor(() => reader.events.includes('history'), 'the history event', 5_000);
    // Before: a baseline of the pace.
    const baselineFrom = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const stallFrom = Date.now();
    const rssBefore = await metric('process_resident_memory_bytes');
    const recordsBefore = await metric('ticketflow_records_total');

    // The stalled client: sends its request, then never reads a byte.
    const slow = connect(port, '127.0.0.1');
    sockets.push(slow);
    slow.on('error', () => {});
    await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
    slow.pause();
    slow.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');

    let rssMax = rssBefore;
    const stallEnds = stallFrom + STALL_MS;
    while (Date.now() < stallEnds) {
      rssMax = Math.max(rssMax, await metric('process_resident_memory_bytes'));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const stallTo = Date.now();
    const recordsAfter = await metric('ticketflow_records_total');
    expect(slow.destroyed).toBe(false); // still connected, never read

    const baseline = pace(reader.batches, baselineFrom, stallFrom);
    const stalled = pace(reader.batches, stallFrom, stallTo);
    const recordsPerSecond = ((recordsAfter - recordsBefore) * 1000) / (stallTo - stallFrom);
    console.info(
      `sse slow client: rss ${(rssBefore / 2 ** 20).toFixed(1)} → max ${(rssMax / 2 ** 20).toFixed(1)} MiB; ` +
        `baseline ${baseline.perSecond.toFixed(2)} batches/s × ${baseline.perBatch.toFixed(0)} records, ` +
        `stalled ${stalled.perSecond.toFixed(2)} batches/s × ${stalled.perBatch.toFixed(0)} records; ` +
        `${recordsPerSecond.toFixed(0)} records/s at --rate ${RATE}`,
    );
    // The pipeline's pace: a batch per window of about rate × window records, before and while stalled.
    const expectedPerBatch = (RATE * WINDOW_MS) / 1000;
    const expectedPerSecond = 1000 / WINDOW_MS;
    for (const phase of [baseline, stalled]) {
      expect(phase.perBatch).toBeGreaterThan(expectedPerBatch * 0.8);
      expect(phase.perBatch).toBeLessThan(expectedPerBatch * 1.2);
      expect(phase.perSecond).toBeGreaterThan(expectedPerSecond * 0.75);
    }
    expect(stalled.perSecond).toBeGreaterThan(baseline.perSecond * 0.8);
    expect(recordsPerSecond).toBeGreaterThan(RATE * 0.8);
    // Memory: the stalled client costs at most its bounded queue (1 MiB), not the stream it misses.
    expect(rssMax - rssBefore).toBeLessThan(64 * 2 ** 20);
    // The reading client got every batch, in order, none skipped.
    const ids = reader.batches.map((b) => b.batchId);
    expect(ids.length).toBeGreaterThan(20);
    expect(ids).toEqual(ids.map((_, i) => (ids[0] as number) + i));

    // SIGTERM with both clients connected, one of them stalled: the process ends promptly, exit 0.
    const stopped = Date.now();
    cli.child.kill('SIGTERM');
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(10_000);
    reader.close();
    // The stalled client was a real /events client, and the server closed its connection: reading it now
    // gets the stream's start, then the end.
    let text = '';
    slow.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
    });
    const ended = new Promise<void>((resolve) => slow.once('close', () => resolve()));
    slow.resume();
    await ended;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain('event: history\ndata: {');
    expect(text).toContain('event: batch\ndata: {');
  }, 45_000);
});
