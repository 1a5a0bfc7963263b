import type { BatchProgress } from '@ticketflow/core';
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createPipelineMetrics } from '../src/metrics-registry';
import { parseMetrics } from './support';

function progress(
  batchId: number,
  inputRecords: number,
  invalidRecords: number,
  totalMs: number,
): BatchProgress {
  return {
    batchId,
    windowStart: new Date(0),
    windowEnd: new Date(30_000),
    inputRecords,
    records: inputRecords - invalidRecords,
    invalidRecords,
    inputRecordsPerSecond: inputRecords / 30,
    processedRecordsPerSecond: 1000,
    durationMs: {
      fold: 100,
      plan: 1,
      deadLetters: 1,
      write: totalMs - 103,
      commit: 1,
      acknowledge: 0,
      total: totalMs,
    },
    replayed: false,
    output: `batch_${batchId}.json`,
  };
}

describe('pipeline metrics', () => {
  it('counts records, invalid records and batches, and times batches from window close to acknowledgement', async () => {
    const metrics = createPipelineMetrics({ processMetrics: false });
    metrics.batchCommitted(progress(0, 150, 2, 120), new Date(1_700_000_000_000));
    metrics.batchCommitted(progress(1, 50, 0, 2_600), new Date(1_700_000_030_500));
    metrics.sinkWriteFailed();
    const m = parseMetrics((await metrics.render()).body);
    expect(m.get('ticketflow_records_total')).toBe(200);
    expect(m.get('ticketflow_invalid_records_total')).toBe(2);
    expect(m.get('ticketflow_batches_total')).toBe(2);
    expect(m.get('ticketflow_last_batch_id')).toBe(1);
    expect(m.get('ticketflow_last_batch_timestamp_seconds')).toBe(1_700_000_030.5);
    expect(m.get('ticketflow_sink_write_failures_total')).toBe(1);
    // Folding is spread over the window: the duration is the rest (0.02 s and 2.5 s).
    expect(m.get('ticketflow_batch_duration_seconds_count')).toBe(2);
    expect(m.get('ticketflow_batch_duration_seconds_sum')).toBeCloseTo(2.52, 6);
    expect(m.get('ticketflow_batch_duration_seconds_bucket{le="0.025"}')).toBe(1);
    expect(m.get('ticketflow_batch_duration_seconds_bucket{le="2.5"}')).toBe(2);
    expect(m.has('process_cpu_seconds_total')).toBe(false);
  });

  it('reads consumer lag per partition at each scrape, dropping partitions no longer reported', async () => {
    let lag = [
      { partition: 0, lag: 12 },
      { partition: 2, lag: 0 },
    ];
    const metrics = createPipelineMetrics({ lag: () => lag, processMetrics: false });
    let m = parseMetrics((await metrics.render()).body);
    expect(m.get('ticketflow_consumer_lag{partition="0"}')).toBe(12);
    expect(m.get('ticketflow_consumer_lag{partition="2"}')).toBe(0);
    lag = [{ partition: 1, lag: 3 }];
    m = parseMetrics((await metrics.render()).body);
    expect(m.get('ticketflow_consumer_lag{partition="1"}')).toBe(3);
    expect(m.has('ticketflow_consumer_lag{partition="0"}')).toBe(false);
  });

  it('uses a registry of its own, with process metrics, and never the global one', async () => {
    let healthy = true;
    const a = createPipelineMetrics({ healthy: () => healthy });
    const b = createPipelineMetrics();
    a.batchCommitted(progress(0, 10, 0, 150));
    const m = parseMetrics((await a.render()).body);
    expect(m.get('ticketflow_healthy')).toBe(1);
    expect(m.has('process_cpu_seconds_total')).toBe(true);
    expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(parseMetrics((await b.render()).body).get('ticketflow_records_total')).toBe(0);
    expect(await globalRegistry.getSingleMetric('ticketflow_records_total')).toBeUndefined();
    healthy = false;
    expect(parseMetrics((await a.render()).body).get('ticketflow_healthy')).toBe(0);
    expect((await a.render()).contentType).toMatch(/^text\/plain/);
  });
});

describe('metrics of the partial and merge stages', () => {
  it('counts transactions and partials produced in a partial stage, partials merged in a merge stage', async () => {
    const partial = createPipelineMetrics({ stage: 'partial', processMetrics: false });
    partial.batchCommitted(progress(0, 10, 1, 200));
    partial.batchCommitted(progress(1, 10, 0, 200));
    partial.transactionAborted();
    const p = parseMetrics((await partial.render()).body);
    expect(p.get('ticketflow_transactions_committed_total')).toBe(2);
    expect(p.get('ticketflow_partials_produced_total')).toBe(2);
    expect(p.get('ticketflow_transactions_aborted_total')).toBe(1);
    expect(p.has('ticketflow_partials_merged_total')).toBe(false);

    const merge = createPipelineMetrics({ stage: 'merge', processMetrics: false });
    merge.batchCommitted({ ...progress(0, 40, 2, 200), partials: 3 });
    merge.transactionAborted();
    const m = parseMetrics((await merge.render()).body);
    expect(m.get('ticketflow_partials_merged_total')).toBe(3);
    expect(m.has('ticketflow_transactions_committed_total')).toBe(false);
    expect(m.has('ticketflow_transactions_aborted_total')).toBe(false);
  });
});
