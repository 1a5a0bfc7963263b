import { createHash } from 'node:crypto';
import { isRejection, type RecordChunk, type RecordContext } from '@ticketflow/core';
import { BehaviorSubject } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_LATE_FRACTION,
  DEFAULT_VERY_LATE_FRACTION,
  type GenerateOptions,
  generateTickets,
} from '../../src/domain/generator';
import { PRIORITIES, REQUEST_TYPES, type Ticket } from '../../src/domain/ticket';
import { parseTicket } from '../../src/domain/validate';
import { generatorSource } from '../../src/sources/generator-source';

const context: RecordContext = { lane: 'test', offset: 0 };
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 3_600_000;

function take(count: number, options: GenerateOptions = {}): string[] {
  const lines: string[] = [];
  for (const line of generateTickets({ now: () => NOW, ...options })) {
    if (lines.length === count) break;
    lines.push(line);
  }
  return lines;
}

function validate(lines: readonly string[]): { tickets: Ticket[]; reasons: string[] } {
  const tickets: Ticket[] = [];
  const reasons: string[] = [];
  for (const line of lines) {
    const result = parseTicket(line, context);
    if (isRejection(result)) reasons.push(result.reason);
    else tickets.push(result);
  }
  return { tickets, reasons };
}

describe('generateTickets', () => {
  it('yields the same tickets for the same seed and clock', () => {
    expect(take(300, { seed: 7, badFraction: 0.2 })).toEqual(take(300, { seed: 7, badFraction: 0.2 }));
  });

  it('yields different tickets for different seeds', () => {
    const a = take(50, { seed: 1 });
    const b = take(50, { seed: 2 });
    expect(a.filter((line, i) => line === b[i])).toEqual([]);
  });

  it('keeps going past any count, as an endless stream', () => {
    const generator = generateTickets({ seed: 3 });
    let strings = 0;
    for (let i = 0; i < 20_000; i++) if (typeof generator.next().value === 'string') strings++;
    expect(strings).toBe(20_000);
    expect(generator.next().done).toBe(false);
  });

  it('yields one JSON object per line, without line breaks', () => {
    for (const line of take(2000, { seed: 4 })) {
      expect(line).not.toMatch(/[\n\r]/);
      expect(typeof JSON.parse(line)).toBe('object');
    }
  });

  it('writes the same text JSON.stringify would, fields in the order of the ticket table', () => {
    for (const line of take(2000, { seed: 13 })) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      expect(JSON.stringify(parsed)).toBe(line);
      expect(Object.keys(parsed)).toEqual([
        'ticket_id',
        'client_id',
        'created_at',
        'request',
        'request_type',
        'priority',
      ]);
    }
  });

  it('yields only valid tickets by default', () => {
    const { tickets, reasons } = validate(take(5000, { seed: 5 }));
    expect(reasons).toEqual([]);
    expect(tickets).toHaveLength(5000);
  });

  it('dates every ticket within the last 48 hours of the clock', () => {
    const { tickets } = validate(take(5000, { seed: 6 }));
    for (const ticket of tickets) {
      expect(ticket.created_at_ms).toBeLessThanOrEqual(NOW);
      expect(ticket.created_at_ms).toBeGreaterThanOrEqual(NOW - 48 * HOUR);
    }
  });

  it('reads the clock for every ticket and honours a custom spread', () => {
    let now = NOW;
    const generator = generateTickets({ seed: 8, now: () => now, createdAtSpreadMs: 0 });
    const first = validate([generator.next().value]).tickets[0];
    now += HOUR;
    const second = validate([generator.next().value]).tickets[0];
    expect(first?.created_at_ms).toBe(NOW);
    expect(second?.created_at_ms).toBe(NOW + HOUR);
  });

  it('varies the fields the way real traffic does', () => {
    const lines = take(5000, { seed: 9 });
    const raw = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const { tickets } = validate(lines);

    expect(new Set(raw.map((r) => r.ticket_id)).size).toBe(5000);
    for (const r of raw) {
      expect(r.ticket_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }

    const numericClients = raw.filter((r) => typeof r.client_id === 'number').length;
    expect(numericClients).toBeGreaterThan(3500);
    expect(numericClients).toBeLessThan(5000);
    for (const r of raw) {
      if (typeof r.client_id === 'number') expect(r.client_id).toBeGreaterThanOrEqual(1);
      else expect(r.client_id).toMatch(/^C-\d{5}$/);
    }

    const zones = new Set(raw.map((r) => String(r.created_at).match(/(Z|z|[+-]\d\d:\d\d)$/)?.[1]));
    expect(zones.has('Z')).toBe(true);
    expect([...zones].filter((z) => z?.startsWith('+')).length).toBeGreaterThan(1);
    expect([...zones].filter((z) => z?.startsWith('-')).length).toBeGreaterThan(1);
    expect(raw.some((r) => /:\d\d\.\d{6}/.test(String(r.created_at)))).toBe(true);
    expect(raw.some((r) => /:\d\d[Z+-]/.test(String(r.created_at)))).toBe(true);

    expect(new Set(tickets.map((t) => t.request_type))).toEqual(new Set(REQUEST_TYPES));
    expect(new Set(tickets.map((t) => t.priority))).toEqual(new Set(PRIORITIES));
    const technical = tickets.filter((t) => t.request_type === 'technical').length;
    const security = tickets.filter((t) => t.request_type === 'security').length;
    expect(technical).toBeGreaterThan(security);

    const oddSpellings = raw.filter(
      (r) =>
        !(REQUEST_TYPES as readonly unknown[]).includes(r.request_type) ||
        !(PRIORITIES as readonly unknown[]).includes(r.priority),
    ).length;
    expect(oddSpellings).toBeGreaterThan(50);
    expect(oddSpellings).toBeLessThan(750);

    expect(tickets.some((t) => [...t.request].some((c) => c.charCodeAt(0) > 127))).toBe(true);
    expect(new Set(tickets.map((t) => t.request)).size).toBeGreaterThan(100);
  });

  it('spoils roughly the requested fraction of records, each of which is rejected', () => {
    const { tickets, reasons } = validate(take(5000, { seed: 10, badFraction: 0.2 }));
    expect(tickets.length + reasons.length).toBe(5000);
    expect(reasons.length).toBeGreaterThan(500);
    expect(reasons.length).toBeLessThan(1500);
  });

  it('spoils records in assorted ways', () => {
    const { reasons } = validate(take(5000, { seed: 11, badFraction: 0.5 }));
    const kinds = [
      /^invalid JSON: /,
      /^expected a JSON object$/,
      /^missing field "/,
      /^field "priority" must be one of .* got "urgent"$/,
      /^field "request_type" must be one of /,
      /^field "created_at" must be a real calendar date and time, got "2026-02-30T10:00:00Z"$/,
      /^field "created_at" must be an RFC 3339 date-time with a Z or ±HH:MM offset, got "\d{4}-\d\d-\d\dT/,
      /^field "created_at" must be an RFC 3339 date-time with a Z or ±HH:MM offset, got "\d{4}-\d\d-\d\d"$/,
      /^field "client_id" must be a non-empty string or an integer >= 1$/,
      /^field "ticket_id" must be a non-empty string$/,
      /^field "request" must be a string$/,
    ];
    for (const kind of kinds) expect(reasons.some((reason) => kind.test(reason))).toBe(true);
  });

  it('spoils every record when badFraction is 1', () => {
    expect(validate(take(1000, { seed: 12, badFraction: 1 })).tickets).toEqual([]);
  });

  it.each([
    ['a negative badFraction', { badFraction: -0.1 }],
    ['a badFraction above 1', { badFraction: 1.5 }],
    ['a NaN badFraction', { badFraction: Number.NaN }],
    ['a negative spread', { createdAtSpreadMs: -1 }],
    ['an empty sentence pool', { sentencePoolSize: 0 }],
  ])('refuses %s with a RangeError', (_name, options) => {
    expect(() => generateTickets(options).next()).toThrow(RangeError);
  });
});

/** How long before `NOW` each valid ticket was created, in ms (`created_at` may be cut to the second). */
function delays(lines: readonly string[]): number[] {
  return validate(lines).tickets.map((t) => NOW - t.created_at_ms);
}

/** The q-quantile (nearest rank) of numbers. */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

describe('generateTickets without arrivals (generate, produce)', () => {
  it('writes the same tickets as before the arrival model existed', () => {
    // Pins the 48-hour spread's output for a seed and a clock, so that files made with `generate` and
    // `produce --seed` stay the same; the arrival model must draw nothing here.
    const digest = (options: GenerateOptions) =>
      createHash('sha256').update(take(20_000, options).join('\n')).digest('hex').slice(0, 16);
    expect(digest({ seed: 1 })).toBe('0363a30ad563e8dc');
    expect(digest({ seed: 7, badFraction: 0.2 })).toBe('2cbfc8b6f25999bd');
  });
});

describe('generateTickets with arrivals (run)', () => {
  const COUNT = 20_000;

  it('defaults to 5 % of tickets minutes late and 0.5 % hours late', () => {
    expect(DEFAULT_LATE_FRACTION).toBe(0.05);
    expect(DEFAULT_VERY_LATE_FRACTION).toBe(0.005);
  });

  it('dates most tickets seconds before now, some 1 to 30 minutes, a few 1 to 6 hours', () => {
    const all = delays(take(COUNT, { seed: 21, arrivals: {} }));
    expect(all).toHaveLength(COUNT);
    // `created_at` written to the second only may read up to 1 s earlier than the instant drawn; an
    // on-time delay over 59 s has a probability of e^-19.
    const onTime = all.filter((d) => d < MINUTE);
    const late = all.filter((d) => d >= MINUTE && d < 30 * MINUTE + SECOND);
    const veryLate = all.filter((d) => d >= HOUR && d < 6 * HOUR + SECOND);
    expect(onTime.length + late.length + veryLate.length).toBe(COUNT);
    for (const d of all) expect(d).toBeGreaterThanOrEqual(0);
    // Binomial counts within about 4 standard deviations of 94.5 %, 5 % and 0.5 % of 20,000.
    expect(late.length).toBeGreaterThan(870);
    expect(late.length).toBeLessThan(1130);
    expect(veryLate.length).toBeGreaterThan(60);
    expect(veryLate.length).toBeLessThan(140);
    expect(onTime.length).toBeGreaterThan(18_700);
    // On time: exponential with a mean of 3 s (median 2.1 s, 95 % under 9 s), never over a minute.
    expect(quantile(onTime, 0.5)).toBeGreaterThan(1.7 * SECOND);
    expect(quantile(onTime, 0.5)).toBeLessThan(2.7 * SECOND);
    expect(quantile(onTime, 0.95)).toBeLessThan(10 * SECOND);
    expect(quantile(onTime, 0.95)).toBeGreaterThan(7 * SECOND);
    expect(Math.max(...onTime)).toBeGreaterThan(15 * SECOND); // an exponential tail, cut at 1 min
    // Minutes late: uniform over 1 to 30 min, so a mean of 15.5 min, and both ends reached.
    const lateMean = late.reduce((s, d) => s + d, 0) / late.length;
    expect(lateMean).toBeGreaterThan(14 * MINUTE);
    expect(lateMean).toBeLessThan(17 * MINUTE);
    expect(Math.min(...late)).toBeLessThan(3 * MINUTE);
    expect(Math.max(...late)).toBeGreaterThan(28 * MINUTE);
    // Hours late: uniform over 1 to 6 h.
    expect(veryLate.filter((d) => d < 2 * HOUR).length).toBeGreaterThan(5);
    expect(veryLate.filter((d) => d > 5 * HOUR).length).toBeGreaterThan(5);
  });

  it('follows the fractions given', () => {
    const share = (options: NonNullable<GenerateOptions['arrivals']>) => {
      const all = delays(take(5000, { seed: 22, arrivals: options }));
      return {
        onTime: all.filter((d) => d < MINUTE).length / all.length,
        veryLate: all.filter((d) => d >= HOUR).length / all.length,
      };
    };
    expect(share({ lateFraction: 0, veryLateFraction: 0 })).toEqual({ onTime: 1, veryLate: 0 });
    expect(share({ lateFraction: 1, veryLateFraction: 0 })).toEqual({ onTime: 0, veryLate: 0 });
    expect(share({ lateFraction: 0, veryLateFraction: 1 })).toEqual({ onTime: 0, veryLate: 1 });
    const half = share({ lateFraction: 0.3, veryLateFraction: 0.2 });
    expect(half.onTime).toBeGreaterThan(0.45);
    expect(half.onTime).toBeLessThan(0.55);
    expect(half.veryLate).toBeGreaterThan(0.17);
    expect(half.veryLate).toBeLessThan(0.23);
  });

  it('is deterministic for a seed and a clock, and differs between seeds', () => {
    const a = take(2000, { seed: 23, arrivals: {}, badFraction: 0.1 });
    expect(take(2000, { seed: 23, arrivals: {}, badFraction: 0.1 })).toEqual(a);
    const b = take(2000, { seed: 24, arrivals: {}, badFraction: 0.1 });
    expect(a.filter((line, i) => line === b[i])).toEqual([]);
    // The same tickets otherwise: only created_at is drawn differently from the spread.
    const spread = take(2000, { seed: 23 });
    expect(spread).not.toEqual(take(2000, { seed: 23, arrivals: {} }));
  });

  it('keeps spoiling the requested fraction, and every valid ticket valid', () => {
    const { tickets, reasons } = validate(take(5000, { seed: 25, badFraction: 0.2, arrivals: {} }));
    expect(tickets.length + reasons.length).toBe(5000);
    expect(reasons.length).toBeGreaterThan(800);
    expect(reasons.length).toBeLessThan(1200);
  });

  it('reads the clock for every ticket and ignores createdAtSpreadMs', () => {
    let now = NOW;
    const generator = generateTickets({
      seed: 26,
      now: () => now,
      createdAtSpreadMs: 48 * HOUR,
      arrivals: { lateFraction: 0, veryLateFraction: 0 },
    });
    for (let i = 0; i < 200; i++) {
      now += 10 * MINUTE;
      const ticket = validate([generator.next().value]).tickets[0];
      expect(now - (ticket?.created_at_ms as number)).toBeGreaterThanOrEqual(0);
      expect(now - (ticket?.created_at_ms as number)).toBeLessThanOrEqual(MINUTE + SECOND);
    }
  });

  it.each([
    ['a negative lateFraction', { lateFraction: -0.1 }],
    ['a veryLateFraction above 1', { veryLateFraction: 1.2 }],
    ['a NaN lateFraction', { lateFraction: Number.NaN }],
    ['fractions adding up to more than 1', { lateFraction: 0.6, veryLateFraction: 0.5 }],
  ])('refuses %s with a RangeError', (_name, arrivals) => {
    expect(() => generateTickets({ arrivals }).next()).toThrow(RangeError);
  });
});

describe('generatorSource', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** The tickets the source emits in `ms` of (fake) time. */
  function emitted(options: Parameters<typeof generatorSource>[0], ms: number): string[] {
    vi.useFakeTimers({ now: NOW });
    const values: string[] = [];
    const controller = new AbortController();
    const subscription = generatorSource(options)
      .open({
        startAt: {},
        signal: controller.signal,
        pressure: new BehaviorSubject(false),
        flush: async () => {},
      })
      .subscribe((chunk: RecordChunk<string>) => values.push(...chunk.values));
    vi.advanceTimersByTime(ms);
    controller.abort();
    subscription.unsubscribe();
    return values;
  }

  it('dates tickets by their arrival when given arrivals, seeded', () => {
    const options = { rate: 1000, seed: 27, arrivals: {}, now: () => NOW };
    const values = emitted(options, 5000);
    expect(values).toHaveLength(5000);
    expect(emitted(options, 5000)).toEqual(values);
    const all = delays(values);
    expect(all.filter((d) => d < MINUTE).length).toBeGreaterThan(4500);
    expect(all.filter((d) => d >= HOUR).length).toBeGreaterThan(5);
    expect(Math.max(...all)).toBeLessThanOrEqual(6 * HOUR + SECOND);
  });

  it('keeps the 48-hour spread without arrivals', () => {
    const all = delays(emitted({ rate: 1000, seed: 28, now: () => NOW }, 2000));
    expect(all).toHaveLength(2000);
    expect(all.filter((d) => d > 6 * HOUR + SECOND).length).toBeGreaterThan(1500);
  });
});
