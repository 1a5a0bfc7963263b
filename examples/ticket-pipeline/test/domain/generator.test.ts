import { isRejection, type RecordContext } from '@ticketflow/core';
import { describe, expect, it } from 'vitest';
import { type GenerateOptions, generateTickets } from '../../src/domain/generator';
import { PRIORITIES, REQUEST_TYPES, type Ticket } from '../../src/domain/ticket';
import { parseTicket } from '../../src/domain/validate';

const context: RecordContext = { lane: 'test', offset: 0 };
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
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
