import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createProgress, progressLine } from '../src/progress';

/** A stream that is not a terminal, keeping what is written. */
function pipe() {
  const lines: string[] = [];
  return { lines, stream: { isTTY: false, write: (text: string) => lines.push(text) > 0 } };
}

let clock = 0;
beforeEach(() => {
  vi.useFakeTimers();
  clock = 0;
});
afterEach(() => {
  vi.useRealTimers();
});

describe('progress off a terminal', () => {
  it('writes one line every interval with records, rate, percentage and ETA of a count', () => {
    const { lines, stream } = pipe();
    const progress = createProgress({
      unit: 'records',
      total: 1000,
      stream: stream as unknown as NodeJS.WritableStream,
      intervalMs: 5000,
      now: () => clock,
    });
    progress.update({ records: 250 });
    clock = 4999;
    vi.advanceTimersByTime(4999);
    expect(lines).toEqual([]);
    clock = 5000;
    vi.advanceTimersByTime(1);
    expect(lines).toEqual(['progress: 250 records, 50/s, 25% of 1000, ETA 15s\n']);
    progress.update({ records: 600 });
    clock = 10_000;
    vi.advanceTimersByTime(5000);
    expect(lines[1]).toBe('progress: 600 records, 60/s, 60% of 1000, ETA 7s\n');
    progress.stop();
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(2);
  });

  it('measures a file by bytes read, and standard input by what was read so far', () => {
    expect(progressLine({ records: 100, bytes: 1500 }, { unit: 'bytes', total: 3000, elapsedMs: 5000 })).toBe(
      'progress: 100 records, 20/s, 50% of 3.0 kB, ETA 5s',
    );
    expect(progressLine({ records: 9, bytes: 2_500_000 }, { unit: 'bytes', elapsedMs: 3000 })).toBe(
      'progress: 9 records, 3/s, 2.5 MB read',
    );
    expect(progressLine({ records: 1, bytes: 1 }, { unit: 'bytes', total: 7201, elapsedMs: 1000 })).toBe(
      'progress: 1 records, 1/s, 0% of 7.2 kB, ETA 2h00m',
    );
  });

  it('writes nothing with --quiet', () => {
    const { lines, stream } = pipe();
    const progress = createProgress({
      unit: 'records',
      total: 10,
      quiet: true,
      stream: stream as unknown as NodeJS.WritableStream,
    });
    progress.update({ records: 5 });
    vi.advanceTimersByTime(60_000);
    progress.stop();
    expect(lines).toEqual([]);
  });
});
