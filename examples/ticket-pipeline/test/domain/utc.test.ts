import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatUtc, formatWithin, utcMinute } from '../../src/domain/utc';

const FIRST = Date.parse('0000-01-01T00:00:00Z');
const LAST = Date.parse('9999-12-31T23:59:59.999Z');

describe('formatUtc', () => {
  it('writes the same text as Date.prototype.toISOString for any instant from year 0 to 9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: FIRST, max: LAST }), (ms) => {
        expect(formatUtc(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 5000 },
    );
  });

  it('writes instants outside 0000..9999 with the extended year of toISOString', () => {
    for (const ms of [FIRST - 1, LAST + 1, -8.64e15, 8.64e15]) {
      expect(formatUtc(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it('formats every millisecond of a minute', () => {
    const start = Date.UTC(2026, 2, 1, 23, 59);
    for (let ms = start; ms < start + 60_000; ms += 7) {
      expect(formatUtc(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it('stays right when minutes that share a cache slot alternate', () => {
    const a = Date.UTC(2026, 2, 1, 10, 0, 1, 1);
    const b = a + 4096 * 60_000;
    const c = a - 4096 * 60_000;
    for (let i = 0; i < 3; i++) {
      for (const ms of [a, b, c, a + 59_000, b + 1]) expect(formatUtc(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it('throws a RangeError outside the range of Date', () => {
    expect(() => formatUtc(8.64e15 + 60_000)).toThrow(RangeError);
  });
});

describe('utcMinute', () => {
  it('gives the UTC day, hour and text prefix of the minute', () => {
    expect(utcMinute(Date.UTC(2026, 2, 2, 1, 30, 45, 500))).toStrictEqual({
      minute: Date.UTC(2026, 2, 2, 1, 30) / 60_000,
      prefix: '2026-03-02T01:30:',
      date: '2026-03-02',
      hour: 1,
    });
  });

  it('floors instants before 1970 to the start of their minute', () => {
    const minute = utcMinute(-1);
    expect(minute.prefix).toBe('1969-12-31T23:59:');
    expect(minute.date).toBe('1969-12-31');
    expect(minute.hour).toBe(23);
    expect(formatWithin(minute, -1)).toBe('1969-12-31T23:59:59.999Z');
  });

  it('returns the same object for instants of the same minute', () => {
    const start = Date.UTC(2026, 2, 1, 10, 0);
    expect(utcMinute(start + 59_999)).toBe(utcMinute(start));
  });
});
