import type { Batch, Sink } from '@ticketflow/core';
import { memorySource } from '@ticketflow/core/testing';
import { BehaviorSubject, firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { startOperations } from '../../src/ops/operations';
import { parseMetrics } from './ops-support';

const batch = (batchId: number): Batch<{ n: number }> => ({
  batchId,
  windowStart: new Date(0),
  windowEnd: new Date(1000),
  records: 1,
  invalidRecords: 0,
  metrics: { n: 1 },
  range: {},
});

/** A sink failing its first `failures` writes. */
function flakySink(failures: number) {
  const written: number[] = [];
  let calls = 0;
  const sink: Sink<{ n: number }> = {
    describe: (id) => `batch_${id}`,
    async write(b) {
      calls += 1;
      if (calls <= failures) throw new Error(`EIO: attempt ${calls}`);
      written.push(b.batchId);
    },
  };
  return { sink, written, calls: () => calls };
}

async function operations(sinkRetryFor: number | undefined, onSleep: (ms: number) => void = () => {}) {
  const lines: string[] = [];
  let clock = 0;
  const ops = await startOperations(
    { window: 1000, ...(sinkRetryFor !== undefined ? { sinkRetryFor } : {}) },
    {
      logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }),
      sourceName: 'test',
      // No real waiting: the clock jumps by the delay.
      sleep: async (ms) => {
        clock += ms;
        onSleep(ms);
      },
      now: () => clock,
    },
  );
  return { ops, log: () => lines.join('') };
}

describe('operations: batch writes', () => {
  it('retries a failing write with growing delays and reports the output failing meanwhile', async () => {
    const delays: number[] = [];
    const healthDuring: boolean[] = [];
    const { ops, log } = await operations(10 * 60_000, (ms) => {
      delays.push(ms);
      healthDuring.push(ops.health.report().sink.failing);
    });
    ops.health.running();
    const flaky = flakySink(3);
    await ops.watchSink(flaky.sink).write(batch(7));
    expect(flaky.written).toEqual([7]);
    expect(delays).toEqual([500, 1000, 2000]);
    expect(healthDuring).toEqual([true, true, true]);
    expect(ops.health.report()).toMatchObject({ healthy: true, sink: { failing: false } });
    expect(parseMetrics((await ops.metrics.render()).body).get('ticketflow_sink_write_failures_total')).toBe(
      3,
    );
    expect(log()).toMatch(/cannot write batch 7 \(attempt 1\): EIO: attempt 1; retrying in 500 ms/);
    expect(log()).toMatch(/batch 7 written after 4 attempts/);
    await ops.close();
  });

  it('fails at once without sinkRetryFor, leaving the output reported as failing', async () => {
    const { ops } = await operations(undefined);
    ops.health.running();
    const flaky = flakySink(1);
    await expect(ops.watchSink(flaky.sink).write(batch(0))).rejects.toThrow('EIO: attempt 1');
    expect(flaky.calls()).toBe(1);
    expect(ops.health.report()).toMatchObject({
      healthy: false,
      sink: { failing: true, lastError: 'EIO: attempt 1' },
    });
    await ops.close();
  });

  it('gives up once the next delay would pass sinkRetryFor', async () => {
    const delays: number[] = [];
    const { ops } = await operations(2_000, (ms) => delays.push(ms));
    const flaky = flakySink(100);
    await expect(ops.watchSink(flaky.sink).write(batch(1))).rejects.toThrow(/EIO/);
    // 500 + 1000 fit in 2 s; the next 2000 would not.
    expect(delays).toEqual([500, 1000]);
    expect(flaky.calls()).toBe(3);
    await ops.close();
  });

  it('stops retrying once the processor is stopping', async () => {
    let ops!: Awaited<ReturnType<typeof operations>>['ops'];
    ({ ops } = await operations(10 * 60_000, () => ops.stopping()));
    const flaky = flakySink(100);
    await expect(ops.watchSink(flaky.sink).write(batch(2))).rejects.toThrow(/EIO/);
    // The attempt before the stop and one last attempt after it.
    expect(flaky.calls()).toBe(2);
    expect(ops.health.report().status).toBe('stopping');
    await ops.close();
  });

  it('sees records arrive through the watched source and runs without an HTTP server by default', async () => {
    const { ops } = await operations(undefined);
    expect(ops.server).toBeUndefined();
    const source = ops.watchSource(memorySource([{ values: ['a', 'b', 'c'] }]));
    expect(source.name).toBe('memory');
    expect(ops.health.report().status).toBe('starting');
    const controller = new AbortController();
    const chunks = await firstValueFrom(
      source
        .open({
          startAt: {},
          signal: controller.signal,
          pressure: new BehaviorSubject(false),
          flush: async () => {},
        })
        .pipe(toArray()),
    );
    expect(chunks.flatMap((c) => c.values)).toEqual(['a', 'b', 'c']);
    expect(ops.health.report().status).toBe('ok');
    await ops.close();
  });
});
