import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dedupeEvents, dedupeMessages, normalizeClientMessage } from '../src/dedupe-events';
import type { KafkaSourceEvent } from '../src/kafka-source';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('dedupeEvents', () => {
  it('prints the first of identical warnings at once and one line with the count per interval', () => {
    const lines: KafkaSourceEvent[] = [];
    const emit = dedupeEvents<KafkaSourceEvent>((e) => lines.push(e));
    for (let i = 0; i < 290; i++) emit({ level: 'warn', message: 'kafka: all broker connections are down' });
    emit({ level: 'warn', message: 'kafka: broker transport failure' });
    expect(lines).toEqual([
      { level: 'warn', message: 'kafka: all broker connections are down' },
      { level: 'warn', message: 'kafka: broker transport failure' },
    ]);
    vi.advanceTimersByTime(10_000);
    expect(lines.slice(2)).toEqual([
      {
        level: 'warn',
        message: 'kafka: all broker connections are down (repeated 289 times in the last 10 s)',
      },
    ]);
    // Still repeating: one line per interval.
    for (let i = 0; i < 50; i++) emit({ level: 'warn', message: 'kafka: all broker connections are down' });
    vi.advanceTimersByTime(10_000);
    expect(lines.slice(3)).toEqual([
      {
        level: 'warn',
        message: 'kafka: all broker connections are down (repeated 50 times in the last 10 s)',
      },
    ]);
    // Quiet for an interval: forgotten, so the next one prints at once.
    vi.advanceTimersByTime(20_000);
    emit({ level: 'warn', message: 'kafka: all broker connections are down' });
    expect(lines).toHaveLength(5);
  });

  it('treats messages differing only in timings and suppression counts as the same, and passes info through', () => {
    expect(
      normalizeClientMessage(
        '[thrd:main]: 127.0.0.1:1/bootstrap: Connect failed: Connection refused (after 3ms in state CONNECT, 4 identical error(s) suppressed)',
      ),
    ).toBe('127.0.0.1:1/bootstrap: Connect failed: Connection refused');
    const lines: string[] = [];
    const emit = dedupeEvents<KafkaSourceEvent>((e) => lines.push(e.message));
    emit({ level: 'warn', message: 'b: Connect failed (after 0ms in state CONNECT)' });
    emit({
      level: 'warn',
      message: 'b: Connect failed (after 9ms in state CONNECT, 1 identical error(s) suppressed)',
    });
    emit({ level: 'info', message: 'assigned t partitions [0]' });
    emit({ level: 'info', message: 'assigned t partitions [0]' });
    expect(lines).toEqual([
      'b: Connect failed (after 0ms in state CONNECT)',
      'assigned t partitions [0]',
      'assigned t partitions [0]',
    ]);
    emit.flush();
    expect(lines[3]).toMatch(/^b: Connect failed .*\(repeated 1 time in the last \d+ s\)$/);
  });

  it('collapses plain messages (a producer warning)', () => {
    const lines: string[] = [];
    const warn = dedupeMessages((m) => lines.push(m), { intervalMs: 5_000 });
    for (let i = 0; i < 100; i++) warn('kafka: ssl error');
    vi.advanceTimersByTime(5_000);
    expect(lines).toEqual(['kafka: ssl error', 'kafka: ssl error (repeated 99 times in the last 5 s)']);
  });
});
