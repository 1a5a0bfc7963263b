import { describe, expect, it } from 'vitest';
import { createHealth } from '../src/health';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('health', () => {
  it('is starting until the pipeline runs, then ok', () => {
    const health = createHealth({ sourceName: 'file:x', windowMs: 30_000 });
    expect(health.report()).toMatchObject({ status: 'starting', healthy: false, reasons: ['starting'] });
    health.running();
    expect(health.report()).toMatchObject({
      status: 'ok',
      healthy: true,
      reasons: [],
      source: { name: 'file:x', connected: null },
    });
  });

  it('is starting while a Kafka source has never connected, and failing once it loses the brokers', () => {
    let connected = false;
    const health = createHealth({ sourceName: 'kafka:t', windowMs: 30_000, connected: () => connected });
    health.running();
    expect(health.report()).toMatchObject({ status: 'starting', reasons: ['connecting to the brokers'] });
    connected = true;
    expect(health.report()).toMatchObject({ status: 'ok', source: { connected: true } });
    connected = false;
    expect(health.report()).toMatchObject({
      status: 'failing',
      healthy: false,
      reasons: ['the source lost its connection to the brokers'],
      source: { connected: false },
    });
    connected = true;
    expect(health.report().healthy).toBe(true);
  });

  it('is failing from a failed output write until a write succeeds', () => {
    const health = createHealth({ sourceName: 's', windowMs: 1000 });
    health.running();
    health.outputFailed('ENOSPC: no space left on device');
    expect(health.report()).toMatchObject({
      status: 'failing',
      reasons: ['writing to the output fails: ENOSPC: no space left on device'],
      sink: { failing: true, lastError: 'ENOSPC: no space left on device' },
    });
    health.outputSucceeded();
    expect(health.report()).toMatchObject({ status: 'ok', sink: { failing: false, lastError: null } });
  });

  it('is failing when records wait longer than the stall limit without a committed batch', () => {
    const c = clock();
    const health = createHealth({ sourceName: 's', windowMs: 30_000, now: c.now });
    health.running();
    health.recordsRead(10);
    c.advance(90_000);
    expect(health.report().status).toBe('ok');
    c.advance(1);
    expect(health.report()).toMatchObject({
      status: 'failing',
      reasons: ['records have waited 90 s without a committed batch'],
    });
    health.batchCommitted(4);
    expect(health.report()).toMatchObject({ status: 'ok', lastBatch: { id: 4 } });
    // An idle stream is healthy however long nothing arrives.
    c.advance(3_600_000);
    expect(health.report().status).toBe('ok');
  });

  it('waits at least 60 s before calling short windows stalled', () => {
    const c = clock();
    const health = createHealth({ sourceName: 's', windowMs: 500, now: c.now });
    health.running();
    health.recordsRead(1);
    c.advance(59_000);
    expect(health.report().healthy).toBe(true);
    c.advance(2_000);
    expect(health.report().healthy).toBe(false);
  });

  it('reports stopping and failed states as unhealthy', () => {
    const health = createHealth({ sourceName: 's', windowMs: 1000 });
    health.running();
    health.stopping();
    expect(health.report()).toMatchObject({ status: 'stopping', healthy: false });
    health.failed('cannot write batch 3: EIO');
    expect(health.report()).toMatchObject({
      status: 'failing',
      reasons: ['the pipeline failed: cannot write batch 3: EIO'],
    });
  });
});
