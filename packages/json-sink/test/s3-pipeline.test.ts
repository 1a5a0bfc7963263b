import { gunzipSync } from 'node:zlib';
import {
  blobCheckpointStore,
  count,
  createPipeline,
  type InputRange,
  metrics,
  reject,
  type Source,
  sum,
  TicketflowError,
} from '@ticketflow/core';
import { memorySource } from '@ticketflow/core/testing';
import { type S3RetryEvent, s3BlobStore } from '@ticketflow/s3-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MotoServer, startMoto } from '../../s3-store/test/support/moto';
import { startTcpProxy, type TcpProxy } from '../../s3-store/test/support/tcp-proxy';
import { blobDeadLetters, jsonSink } from '../src/index';

let moto: MotoServer;
let proxy: TcpProxy;
const BUCKET = 'pipeline';

beforeAll(async () => {
  moto = await startMoto({ buckets: [BUCKET] });
  proxy = await startTcpProxy(moto.port);
  Object.assign(process.env, moto.env());
});
afterAll(async () => {
  await proxy?.close();
  await moto?.stop();
});

/** `total` records: `{"n":i}`, every 10th one not JSON. */
function records(total: number): string[] {
  return Array.from({ length: total }, (_, i) => (i % 10 === 9 ? `oops ${i}` : JSON.stringify({ n: i })));
}
const expectedSum = (lines: readonly string[]) =>
  lines.reduce((s, line) => (line.startsWith('{') ? s + (JSON.parse(line) as { n: number }).n : s), 0);

const decode = (line: string) => {
  try {
    return JSON.parse(line) as { n: number };
  } catch {
    return reject('invalid JSON');
  }
};

/** A batch object as this test's format writes it. */
interface BatchRow {
  readonly batch_id: number;
  readonly first: number;
  readonly records: number;
  readonly invalid_records: number;
  readonly total: number;
  readonly sum_n: number;
}

/** Every batch object under a prefix, parsed, by batch id; `seen` caches objects already read. */
async function batchesIn(prefix: string, seen = new Map<string, BatchRow>()): Promise<Map<number, BatchRow>> {
  const out = new Map<number, BatchRow>();
  for (const key of await moto.listKeys(BUCKET, prefix)) {
    if (!/\/batch_\d+\.json\.gz$/.test(key)) continue;
    let parsed = seen.get(key);
    if (parsed === undefined) {
      const body = gunzipSync((await moto.getObject(BUCKET, key)) ?? Buffer.alloc(0)).toString('utf8');
      parsed = JSON.parse(body) as BatchRow;
      seen.set(key, parsed);
    }
    out.set(parsed.batch_id, parsed);
  }
  return out;
}

/**
 * A memory source whose `acknowledge` first checks, straight against moto (not through the proxy), that
 * the batch being acknowledged is in S3 with every record of its range, and its commit marker too.
 */
function checkingSource(lines: readonly string[], prefix: string) {
  const inner = memorySource([{ values: lines, lane: 'input' }]);
  const problems: string[] = [];
  const seen = new Map<string, BatchRow>();
  let acknowledged = 0;
  const source: Source<string> = {
    name: 'memory',
    open: (context) => inner.open(context),
    async acknowledge(range: InputRange, positions) {
      const batches = await batchesIn(prefix, seen);
      const span = range.input ? range.input.to - range.input.from + 1 : 0;
      const match = [...batches.values()].find(
        (b) => b.records + b.invalid_records === span && b.first === range.input?.from,
      );
      if (!match) problems.push(`range ${JSON.stringify(range)} acknowledged before its batch was in S3`);
      else if (!(await moto.getObject(BUCKET, `${prefix}_checkpoint/commits/${match.batch_id}.json`)))
        problems.push(`batch ${match.batch_id} acknowledged before its commit`);
      acknowledged += 1;
      await inner.acknowledge(range, positions);
    },
  };
  return {
    source,
    problems,
    get acknowledged() {
      return acknowledged;
    },
  };
}

function pipelineOn(
  prefix: string,
  lines: readonly string[],
  retry: { maxAttempts?: number },
  events: S3RetryEvent[],
) {
  const store = s3BlobStore({
    bucket: BUCKET,
    prefix,
    endpoint: proxy.endpoint,
    retry: { baseDelayMs: 100, maxDelayMs: 1000, ...retry },
    onRetry: (event) => events.push(event),
  });
  const checking = checkingSource(lines, prefix);
  const pipeline = createPipeline({
    source: checking.source,
    decode,
    metrics: metrics({ total: count(), sum_n: sum((r: { n: number }) => r.n) }),
    sink: jsonSink({
      store,
      layout: 'hive',
      gzip: true,
      format: (batch) => ({
        batch_id: batch.batchId,
        window_start: batch.windowStart.toISOString(),
        first: batch.range.input?.from ?? -1,
        records: batch.records,
        invalid_records: batch.invalidRecords,
        ...(batch.metrics as object),
      }),
    }),
    checkpoint: blobCheckpointStore(store),
    deadLetters: blobDeadLetters(store),
    window: { span: '1h', maxRecords: 100 },
  });
  return { pipeline, checking, store };
}

describe('a pipeline writing to S3', () => {
  it('rides out S3 being down for 3 s mid-run: retries, loses no batch, acknowledges only written batches', async () => {
    const lines = records(2000);
    const events: S3RetryEvent[] = [];
    const { pipeline, checking } = pipelineOn('outage/', lines, { maxAttempts: 12 }, events);
    let outage: Promise<void> | undefined;
    pipeline.progress$.subscribe((p) => {
      if (p.batchId === 3) {
        outage = proxy
          .setMode('refuse')
          .then(
            () => new Promise<void>((resolve) => setTimeout(() => resolve(proxy.setMode('forward')), 3000)),
          );
      }
    });
    const summary = await pipeline.run();
    await outage;

    expect(events.length).toBeGreaterThan(0);
    expect(events.map((e) => e.reason)).toContain('ECONNREFUSED');
    expect(checking.problems).toEqual([]);
    expect(checking.acknowledged).toBe(20);
    expect(summary.batches).toBe(20);
    const batches = await batchesIn('outage/');
    expect([...batches.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const totals = [...batches.values()];
    expect(totals.reduce((s, b) => s + b.records, 0)).toBe(1800);
    expect(totals.reduce((s, b) => s + b.invalid_records, 0)).toBe(200);
    expect(totals.reduce((s, b) => s + b.sum_n, 0)).toBe(expectedSum(lines));
    const deadLetterKeys = await moto.listKeys(BUCKET, 'outage/_dead_letters/');
    let letters = 0;
    for (const key of deadLetterKeys) {
      letters += ((await moto.getObject(BUCKET, key))?.toString('utf8').trimEnd().split('\n') ?? []).length;
    }
    expect(letters).toBe(200);
  });

  it('fails with a one-line error when S3 stays down, and the next run completes without loss or double count', async () => {
    const lines = records(1000);
    const events: S3RetryEvent[] = [];
    const first = pipelineOn('resume/', lines, { maxAttempts: 3 }, events);
    first.pipeline.progress$.subscribe((p) => {
      if (p.batchId === 2) void proxy.setMode('refuse');
    });
    let failure: unknown;
    try {
      await first.pipeline.run();
    } catch (error) {
      failure = error;
    } finally {
      await proxy.setMode('forward');
    }
    expect(failure).toBeInstanceOf(TicketflowError);
    expect((failure as TicketflowError).message).toMatch(
      /^cannot (record batch \d+|write batch \d+|write the dead letters|commit batch \d+): cannot (put|get|list) s3:\/\/pipeline\/resume\/.* \(ECONNREFUSED\)$/,
    );
    expect((failure as TicketflowError).retriable).toBe(true);
    expect(first.checking.problems).toEqual([]);
    const written = (await batchesIn('resume/')).size;
    expect(first.checking.acknowledged).toBeLessThan(10);
    expect(written).toBeGreaterThanOrEqual(first.checking.acknowledged);

    const second = pipelineOn('resume/', lines, {}, []);
    await second.pipeline.run();
    expect(second.checking.problems).toEqual([]);
    const batches = await batchesIn('resume/');
    expect([...batches.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    const totals = [...batches.values()];
    expect(totals.reduce((s, b) => s + b.records + b.invalid_records, 0)).toBe(1000);
    expect(totals.reduce((s, b) => s + b.sum_n, 0)).toBe(expectedSum(lines));
  });
});
