import {
  type Batch,
  count,
  createPipeline,
  metrics,
  type PipelineEvent,
  retryPolicy,
  type Sink,
  TicketflowError,
} from '@ticketflow/core';
import { memorySink, memorySource } from '@ticketflow/core/testing';
import { type Observable, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { serveOperations } from '../src/operations';
import { lineLogger, parseMetrics } from './support';

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

async function operations(sinkRetryFor: number | undefined, pipelineEvents$?: Observable<PipelineEvent>) {
  const { logger, text } = lineLogger();
  const events = new Subject<PipelineEvent>();
  const ops = await serveOperations({
    events$: pipelineEvents$ ?? events,
    sourceName: 'test',
    windowMs: 1000,
    ...(sinkRetryFor !== undefined ? { retryFor: sinkRetryFor } : {}),
    logger,
  });
  return { ops, events, log: text };
}

/**
 * The engine's retry policy with the processor's settings, waiting 1 ms doubling to 4 ms, its retries
 * reaching the operations as a pipeline's `retrying` and `recovered` events.
 */
function policy({ ops, events }: Awaited<ReturnType<typeof operations>>) {
  return retryPolicy({
    ...ops.retryOptions(),
    firstDelay: 1,
    maxDelay: 4,
    onRetry: (retry) => events.next({ type: 'retrying', retry }),
    onRecovered: (recovery) => events.next({ type: 'recovered', recovery }),
  });
}

describe('operations: retries and batch writes', () => {
  it('reports the output failing while a step is retried, counts and logs each retry, then recovers', async () => {
    const running = await operations(10 * 60_000);
    const { ops, log } = running;
    ops.health.running();
    const healthDuring: boolean[] = [];
    const flaky = flakySink(3);
    const sink = ops.watchSink(flaky.sink);
    await policy(running)(
      'write',
      7,
      async () => {
        healthDuring.push(ops.health.report().healthy);
        await sink.write(batch(7)).catch((e: Error) => {
          throw new TicketflowError('SINK_FAILED', `cannot write batch 7: ${e.message}`);
        });
      },
      new AbortController().signal,
    );
    expect(flaky.written).toEqual([7]);
    expect(healthDuring).toEqual([true, false, false, false]);
    expect(ops.health.report()).toMatchObject({ healthy: true, sink: { failing: false } });
    const metrics = parseMetrics((await ops.metrics.render()).body);
    expect(metrics.get('ticketflow_sink_write_failures_total')).toBe(3);
    expect(metrics.get('ticketflow_storage_retries_total{step="write"}')).toBe(3);
    expect(log()).toMatch(/WARN +cannot write batch 7: EIO: attempt 1 \(attempt 1\); retrying in 1 ms/);
    expect(log()).toMatch(/batch 7 written after 4 attempts/);
    await ops.close();
  });

  it('fails at once without sinkRetryFor, leaving the output reported as failing', async () => {
    const running = await operations(undefined);
    const { ops } = running;
    ops.health.running();
    const flaky = flakySink(1);
    const sink = ops.watchSink(flaky.sink);
    await expect(
      policy(running)('write', 0, () => sink.write(batch(0)), new AbortController().signal),
    ).rejects.toThrow('EIO: attempt 1');
    expect(flaky.calls()).toBe(1);
    expect(ops.health.report()).toMatchObject({
      healthy: false,
      sink: { failing: true, lastError: 'EIO: attempt 1' },
    });
    await ops.close();
  });

  it("stops retrying once the pipeline is asked to stop, throwing the step's own error", async () => {
    const running = await operations(10 * 60_000);
    const { ops } = running;
    const stop = new AbortController();
    let calls = 0;
    const step = async () => {
      calls += 1;
      if (calls === 2) stop.abort();
      throw new TicketflowError('CHECKPOINT_FAILED', `cannot commit batch 2: EIO ${calls}`);
    };
    await expect(policy(running)('commit', 2, step, stop.signal)).rejects.toThrow(
      'cannot commit batch 2: EIO 2',
    );
    // The attempt during which the stop came was the last one.
    expect(calls).toBe(2);
    await ops.close();
  });

  it("follows a pipeline's events and runs without an HTTP server by default", async () => {
    const pipeline = createPipeline({
      source: memorySource([{ values: ['a', 'b', 'c'] }]),
      metrics: metrics({ n: count() }),
      sink: memorySink(),
    });
    const { ops } = await operations(undefined, pipeline.events$);
    expect(ops.server).toBeUndefined();
    expect(ops.health.report().status).toBe('starting');
    const reads: number[] = [];
    pipeline.events$.subscribe((e) => {
      if (e.type === 'records-read') reads.push(e.records);
      // Records read and not yet in a committed batch: running, waiting for the batch.
      if (e.type === 'records-read') expect(ops.health.report().status).toBe('ok');
    });
    await pipeline.run();
    expect(reads).toEqual([3]);
    expect(ops.health.report()).toMatchObject({ status: 'ok', healthy: true });
    const m = parseMetrics((await ops.metrics.render()).body);
    expect(m.get('ticketflow_batches_total')).toBe(1);
    await ops.close();
  });
});
