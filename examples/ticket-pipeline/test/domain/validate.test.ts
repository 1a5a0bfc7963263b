import { isRejection, type RecordContext, Rejection } from '@ticketflow/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PRIORITIES, REQUEST_TYPES, type Ticket } from '../../src/domain/ticket';
import { MAX_REASON_LENGTH, parseTicket, validateTicket } from '../../src/domain/validate';

const context: RecordContext = { lane: 'test', offset: 0 };

const VALID = {
  ticket_id: 't-1',
  client_id: 42,
  created_at: '2026-03-01T10:15:30Z',
  request: 'My invoice is wrong',
  request_type: 'billing',
  priority: 'high',
} as const;

function parse(record: unknown): Ticket | Rejection {
  return parseTicket(JSON.stringify(record), context);
}

function withField(field: string, value: unknown): Record<string, unknown> {
  return { ...VALID, [field]: value };
}

function ticketOf(result: Ticket | Rejection): Ticket {
  if (isRejection(result)) throw new Error(`expected a ticket, got the rejection "${result.reason}"`);
  return result;
}

function reasonOf(result: Ticket | Rejection): string {
  if (!isRejection(result)) throw new Error(`expected a rejection, got ${JSON.stringify(result)}`);
  expect(result.reason).not.toMatch(/[\n\r\u2028\u2029]/);
  expect(result.reason.length).toBeLessThanOrEqual(MAX_REASON_LENGTH);
  return result.reason;
}

/** `±HH:MM` for an offset in minutes east of UTC. */
function offsetText(minutes: number): string {
  const abs = Math.abs(minutes);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${minutes < 0 ? '-' : '+'}${pad(Math.trunc(abs / 60))}:${pad(abs % 60)}`;
}

const NOT_RFC3339 = 'field "created_at" must be an RFC 3339 date-time with a Z or ±HH:MM offset, got ';
const REQUEST_TYPE_ENUM =
  'field "request_type" must be one of technical, billing, account, security, feature_request, other, got ';

function createdAtMs(createdAt: string): number {
  return ticketOf(parse(withField('created_at', createdAt))).created_at_ms;
}

describe('parseTicket', () => {
  it('returns the normalized ticket for a valid record', () => {
    expect(parse(VALID)).toStrictEqual({
      ticket_id: 't-1',
      client_id: 42,
      created_at_ms: Date.UTC(2026, 2, 1, 10, 15, 30),
      request: 'My invoice is wrong',
      request_type: 'billing',
      priority: 'high',
    });
  });

  it('ignores unknown extra fields and does not copy them', () => {
    const ticket = ticketOf(parse({ ...VALID, channel: 'email', nested: { deep: [1, 2] }, priority_x: 1 }));
    expect(Object.keys(ticket).sort()).toEqual(
      ['client_id', 'created_at_ms', 'priority', 'request', 'request_type', 'ticket_id'].sort(),
    );
  });

  it('accepts fields in any order', () => {
    const reversed = Object.fromEntries(Object.entries(VALID).reverse());
    expect(parse(reversed)).toStrictEqual(parse(VALID));
  });

  it('accepts a leading byte order mark, surrounding whitespace and a trailing carriage return', () => {
    const text = JSON.stringify(VALID);
    expect(ticketOf(parseTicket(`\ufeff${text}`, context)).ticket_id).toBe('t-1');
    expect(ticketOf(parseTicket(`  ${text}\r`, context)).ticket_id).toBe('t-1');
  });

  it('returns a Rejection instance, not a thrown error', () => {
    const result = parseTicket('nope', context);
    expect(result).toBeInstanceOf(Rejection);
  });

  describe('text that is not a JSON object', () => {
    it.each([
      ['plain text', 'hello world'],
      ['an empty line', ''],
      ['a truncated object', '{"ticket_id": "t-1", "client_id"'],
      ['trailing garbage', `${JSON.stringify(VALID)} x`],
      ['single quotes', "{'ticket_id': 't-1'}"],
      ['two objects on one line', `${JSON.stringify(VALID)}${JSON.stringify(VALID)}`],
    ])('rejects %s as invalid JSON', (_name, text) => {
      expect(reasonOf(parseTicket(text, context))).toMatch(/^invalid JSON: \S/);
    });

    it('keeps the JSON error on one line when the input spans lines', () => {
      const reason = reasonOf(parseTicket('{\n  "ticket_id": nope\n}', context));
      expect(reason).toMatch(/^invalid JSON: /);
    });

    it('keeps the JSON error short for a 20 KB broken record', () => {
      const text = `{"ticket_id": "t-1", "request": "${'x'.repeat(20_000)}`;
      expect(reasonOf(parseTicket(text, context))).toMatch(/^invalid JSON: /);
    });

    it.each([
      ['an array', '[]'],
      ['an array holding a valid ticket', `[${JSON.stringify(VALID)}]`],
      ['null', 'null'],
      ['a number', '42'],
      ['a string', '"ticket"'],
      ['a boolean', 'true'],
    ])('rejects %s with "expected a JSON object"', (_name, text) => {
      expect(reasonOf(parseTicket(text, context))).toBe('expected a JSON object');
    });
  });

  describe('missing fields', () => {
    it.each(Object.keys(VALID))('rejects a record without %s', (field) => {
      const record: Record<string, unknown> = { ...VALID };
      delete record[field];
      expect(reasonOf(parse(record))).toBe(`missing field "${field}"`);
    });

    it('reports the first missing field in the order of the ticket table', () => {
      expect(reasonOf(parse({}))).toBe('missing field "ticket_id"');
      expect(reasonOf(parse({ ticket_id: 'a', client_id: 1 }))).toBe('missing field "created_at"');
    });

    it('treats a null field as present but of the wrong type', () => {
      expect(reasonOf(parse(withField('request', null)))).toBe('field "request" must be a string');
    });
  });

  describe('ticket_id', () => {
    it('keeps the identifier exactly as given, surrounding spaces included', () => {
      expect(ticketOf(parse(withField('ticket_id', ' T 1 '))).ticket_id).toBe(' T 1 ');
      expect(ticketOf(parse(withField('ticket_id', 'é'))).ticket_id).toBe('é');
    });

    it.each([
      ['an empty string', ''],
      ['a whitespace-only string', ' \t '],
      ['a no-break-space-only string', '\u00a0\u3000'],
      ['a number', 7],
      ['null', null],
      ['an object', { id: 1 }],
    ])('rejects %s', (_name, value) => {
      expect(reasonOf(parse(withField('ticket_id', value)))).toBe(
        'field "ticket_id" must be a non-empty string',
      );
    });
  });

  describe('client_id', () => {
    it.each([
      ['the integer 1', 1],
      ['a large integer', 100_000],
      ['the largest safe integer', Number.MAX_SAFE_INTEGER],
      ['a string', 'C-12345'],
      ['a numeric string', '0'],
      ['a string with surrounding spaces, kept as given', ' C-1 '],
    ])('accepts %s', (_name, value) => {
      expect(ticketOf(parse(withField('client_id', value))).client_id).toBe(value);
    });

    it('accepts an integer written with an exponent or a zero fraction', () => {
      const text = JSON.stringify(VALID).replace('"client_id":42', '"client_id":1e3');
      expect(ticketOf(parseTicket(text, context)).client_id).toBe(1000);
      const fraction = JSON.stringify(VALID).replace('"client_id":42', '"client_id":5.0');
      expect(ticketOf(parseTicket(fraction, context)).client_id).toBe(5);
    });

    it.each([
      ['zero', 0],
      ['a negative integer', -3],
      ['a fraction', 1.5],
      ['true', true],
      ['false', false],
      ['null', null],
      ['an empty string', ''],
      ['a whitespace-only string', '   '],
      ['an array', [1]],
      ['an object', { id: 1 }],
    ])('rejects %s', (_name, value) => {
      expect(reasonOf(parse(withField('client_id', value)))).toBe(
        'field "client_id" must be a non-empty string or an integer >= 1',
      );
    });

    it('rejects an integer too large to be exact and suggests a string', () => {
      const reason = reasonOf(parse(withField('client_id', 2 ** 53)));
      expect(reason).toMatch(/^field "client_id" is an integer above 9007199254740991/);
      expect(reason).toContain('send it as a string');
    });
  });

  describe('created_at', () => {
    it('converts Z and offsets to the UTC instant', () => {
      expect(createdAtMs('2026-03-01T10:00:00Z')).toBe(Date.UTC(2026, 2, 1, 10));
      expect(createdAtMs('2026-03-01T10:00:00+02:00')).toBe(Date.UTC(2026, 2, 1, 8));
      expect(createdAtMs('2026-03-01T10:00:00-05:30')).toBe(Date.UTC(2026, 2, 1, 15, 30));
      expect(createdAtMs('2026-03-01T10:00:00+00:00')).toBe(Date.UTC(2026, 2, 1, 10));
      expect(createdAtMs('2026-03-01T10:00:00-00:00')).toBe(Date.UTC(2026, 2, 1, 10));
      expect(createdAtMs('2026-03-01T10:00:00+23:59')).toBe(
        Date.UTC(2026, 2, 1, 10) - (23 * 60 + 59) * 60_000,
      );
    });

    it('moves to the next or previous UTC day when the offset crosses midnight', () => {
      expect(createdAtMs('2026-03-01T23:30:00-02:00')).toBe(Date.UTC(2026, 2, 2, 1, 30));
      expect(createdAtMs('2026-03-01T00:30:00+02:00')).toBe(Date.UTC(2026, 1, 28, 22, 30));
      expect(createdAtMs('2026-12-31T23:00:00-01:00')).toBe(Date.UTC(2027, 0, 1, 0));
      expect(createdAtMs('2026-01-01T00:00:00+00:01')).toBe(Date.UTC(2025, 11, 31, 23, 59));
    });

    it('accepts the lowercase t and z that RFC 3339 allows', () => {
      expect(createdAtMs('2026-03-01t10:00:00z')).toBe(Date.UTC(2026, 2, 1, 10));
      expect(createdAtMs('2026-03-01t10:00:00+01:00')).toBe(Date.UTC(2026, 2, 1, 9));
    });

    it.each([
      ['.5', 500],
      ['.05', 50],
      ['.123', 123],
      ['.1239', 123],
      ['.999999999', 999],
      ['.000001', 0],
      [`.${'7'.repeat(20_000)}`, 777],
    ])('reads the fraction %s as %i ms, truncating digits beyond milliseconds', (fraction, ms) => {
      expect(createdAtMs(`2026-03-01T10:00:00${fraction}Z`)).toBe(Date.UTC(2026, 2, 1, 10) + ms);
    });

    it('applies the fraction before the offset', () => {
      expect(createdAtMs('2026-03-01T00:00:00.250+01:00')).toBe(Date.UTC(2026, 1, 28, 23, 0, 0, 250));
    });

    it.each([
      ['a leap day in a year divisible by 4', '2024-02-29T12:00:00Z', Date.UTC(2024, 1, 29, 12)],
      ['a leap day in a year divisible by 400', '2000-02-29T12:00:00Z', Date.UTC(2000, 1, 29, 12)],
      ['the last instant of a year', '2026-12-31T23:59:59.999Z', Date.UTC(2026, 11, 31, 23, 59, 59, 999)],
      ['the last day of a 30-day month', '2026-04-30T00:00:00Z', Date.UTC(2026, 3, 30)],
      ['a date before 1970', '1969-12-31T23:59:59Z', -1000],
      ['year 0000', '0000-01-01T00:00:00Z', -62_167_219_200_000],
      ['year 0099 (not read as 1999)', '0099-06-01T00:00:00Z', Date.parse('0099-06-01T00:00:00Z')],
      ['year 9999', '9999-12-31T23:59:59Z', Date.parse('9999-12-31T23:59:59Z')],
    ])('accepts %s', (_name, text, expected) => {
      expect(createdAtMs(text)).toBe(expected);
    });

    it.each([
      ['a time without offset', '2026-01-01T10:00:00'],
      ['a time with fraction but without offset', '2026-01-01T10:00:00.123'],
      ['a bare date', '2026-01-01'],
      ['a space separator', '2026-01-01 10:00:00Z'],
      ['a missing seconds field', '2026-01-01T10:00Z'],
      ['single-digit components', '2026-1-01T10:00:00Z'],
      ['a two-digit year', '26-01-01T10:00:00Z'],
      ['a five-digit year', '+02026-01-01T10:00:00Z'],
      ['a dot without fraction digits', '2026-01-01T10:00:00.Z'],
      ['a comma as decimal sign', '2026-01-01T10:00:00,5Z'],
      ['an offset without colon', '2026-01-01T10:00:00+0200'],
      ['an offset without minutes', '2026-01-01T10:00:00+02'],
      ['an offset with seconds', '2026-01-01T10:00:00+02:00:00'],
      ['text after the Z', '2026-01-01T10:00:00Zjunk'],
      ['a leading space', ' 2026-01-01T10:00:00Z'],
      ['a trailing space', '2026-01-01T10:00:00Z '],
      ['a named zone', '2026-01-01T10:00:00 UTC'],
      ['full-width digits', '２０２６-01-01T10:00:00Z'],
      ['a letter instead of a digit', '2026-0a-01T10:00:00Z'],
      ['a free-text date', 'yesterday afternoon'],
      ['an empty string', ''],
    ])('rejects %s as not RFC 3339', (_name, text) => {
      expect(reasonOf(parse(withField('created_at', text)))).toBe(`${NOT_RFC3339}${JSON.stringify(text)}`);
    });

    it.each([
      ['year 0000 at +01:00, which is -000001-12-31 in UTC', '0000-01-01T00:00:00+01:00'],
      ['year 9999 at -01:00, which is year 10000 in UTC', '9999-12-31T23:30:00-01:00'],
      ['the last minute of year 9999 at -00:01', '9999-12-31T23:59:00-00:01'],
    ])('rejects %s: only UTC years 0000 to 9999 are valid', (_name, text) => {
      expect(reasonOf(parse(withField('created_at', text)))).toBe(
        `field "created_at" must fall within the years 0000 to 9999 in UTC, got ${JSON.stringify(text)}`,
      );
    });

    it.each([
      ['the first UTC instant of year 0000, given at -01:00', '0000-01-01T01:00:00+01:00'],
      ['the last UTC instant of year 9999, given at -01:00', '9999-12-31T22:59:59.999-01:00'],
    ])('accepts %s', (_name, text) => {
      const ticket = ticketOf(parse(withField('created_at', text)));
      expect(new Date(ticket.created_at_ms).toISOString()).toMatch(
        /^(0000-01-01T00:00:00.000|9999-12-31T23:59:59.999)Z$/,
      );
    });

    it.each([
      ['February 30', '2026-02-30T10:00:00Z'],
      ['February 29 in a common year', '2026-02-29T10:00:00Z'],
      ['February 29 in a century year not divisible by 400', '1900-02-29T10:00:00Z'],
      ['April 31', '2026-04-31T10:00:00Z'],
      ['month 13', '2026-13-01T10:00:00Z'],
      ['month 00', '2026-00-10T10:00:00Z'],
      ['day 00', '2026-01-00T10:00:00Z'],
      ['day 32', '2026-01-32T10:00:00Z'],
      ['hour 24', '2026-01-01T24:00:00Z'],
      ['minute 60', '2026-01-01T23:60:00Z'],
      ['second 61', '2026-01-01T23:59:61Z'],
      ['an offset of 24 hours', '2026-01-01T10:00:00+24:00'],
      ['an offset with minute 60', '2026-01-01T10:00:00-05:60'],
    ])('rejects %s as not a real calendar instant, without rolling it over', (_name, text) => {
      expect(reasonOf(parse(withField('created_at', text)))).toBe(
        `field "created_at" must be a real calendar date and time, got ${JSON.stringify(text)}`,
      );
    });

    it('rejects a leap second, which epoch milliseconds cannot represent', () => {
      expect(reasonOf(parse(withField('created_at', '2016-12-31T23:59:60Z')))).toBe(
        'field "created_at" has second 60 (leap seconds are not supported), got "2016-12-31T23:59:60Z"',
      );
    });

    it.each([
      ['a number', 1_772_000_000_000],
      ['null', null],
      ['an object', { seconds: 1 }],
    ])('rejects %s as not a string', (_name, value) => {
      expect(reasonOf(parse(withField('created_at', value)))).toBe('field "created_at" must be a string');
    });

    it('quotes a long invalid value truncated, with newlines escaped', () => {
      const reason = reasonOf(parse(withField('created_at', `2026\n${'9'.repeat(20_000)}`)));
      expect(reason).toContain('got "2026\\n9999');
      expect(reason).toMatch(/\.\.\.$/);
    });

    it('agrees with an independent calendar for any valid component values', () => {
      const components = fc.record({
        year: fc.integer({ min: 0, max: 9999 }),
        month: fc.integer({ min: 1, max: 12 }),
        day: fc.integer({ min: 1, max: 31 }),
        hour: fc.integer({ min: 0, max: 23 }),
        minute: fc.integer({ min: 0, max: 59 }),
        second: fc.integer({ min: 0, max: 59 }),
        fraction: fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined }),
        offset: fc.option(fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }), { nil: undefined }),
      });
      fc.assert(
        fc.property(components, (c) => {
          const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');
          const zone = c.offset === undefined ? 'Z' : offsetText(c.offset);
          const date = `${pad(c.year, 4)}-${pad(c.month)}-${pad(c.day)}`;
          const time = `${pad(c.hour)}:${pad(c.minute)}:${pad(c.second)}`;
          const text = `${date}T${time}${c.fraction === undefined ? '' : `.${c.fraction}`}${zone}`;
          const reference = new Date(0);
          reference.setUTCFullYear(c.year, c.month - 1, c.day);
          const realDay = reference.getUTCDate() === c.day;
          reference.setUTCHours(
            c.hour,
            c.minute,
            c.second,
            Number((c.fraction ?? '0').padEnd(3, '0').slice(0, 3)),
          );
          const result = parse(withField('created_at', text));
          if (!realDay) {
            expect(reasonOf(result)).toMatch(/must be a real calendar date and time/);
            return;
          }
          const utc = reference.getTime() - (c.offset ?? 0) * 60_000;
          const utcYear = new Date(utc).getUTCFullYear();
          if (utcYear < 0 || utcYear > 9999) {
            // An offset can carry the first or last instants of the range outside it, in UTC.
            expect(reasonOf(result)).toMatch(/must fall within the years 0000 to 9999 in UTC/);
            return;
          }
          expect(ticketOf(result).created_at_ms).toBe(utc);
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('request', () => {
    it.each([
      ['an empty string', ''],
      ['emoji and accents', 'No puedo iniciar sesión 📱 — ça ne marche pas'],
      ['CJK text', 'ログインできません'],
      ['right-to-left text', 'لا أستطيع تسجيل الدخول'],
      ['line breaks and quotes', 'line 1\nline "2"\r\n\ttab'],
      ['a lone surrogate', '\ud800 broken'],
      ['20 KB of text', 'é'.repeat(20_000)],
    ])('keeps %s exactly', (_name, request) => {
      expect(ticketOf(parse(withField('request', request))).request).toBe(request);
    });

    it.each([
      ['a number', 5],
      ['an array', ['a']],
      ['a boolean', false],
    ])('rejects %s', (_name, value) => {
      expect(reasonOf(parse(withField('request', value)))).toBe('field "request" must be a string');
    });
  });

  describe('request_type and priority', () => {
    it.each(REQUEST_TYPES)('accepts the request type %s', (requestType) => {
      expect(ticketOf(parse(withField('request_type', requestType))).request_type).toBe(requestType);
    });

    it.each(PRIORITIES)('accepts the priority %s', (priority) => {
      expect(ticketOf(parse(withField('priority', priority))).priority).toBe(priority);
    });

    it.each([
      ['request_type', 'BILLING', 'billing'],
      ['request_type', 'Feature_Request', 'feature_request'],
      ['request_type', '  security\t', 'security'],
      ['request_type', '\u00a0Other\n', 'other'],
      ['priority', ' HIGH ', 'high'],
      ['priority', ' High', 'high'],
      ['priority', 'Critical', 'critical'],
      ['priority', 'lOw\r\n', 'low'],
    ])('normalizes %s %j to %s', (field, raw, normalized) => {
      expect(ticketOf(parse(withField(field, raw)))[field as 'priority' | 'request_type']).toBe(normalized);
    });

    it('names the allowed values and the offending one', () => {
      expect(reasonOf(parse(withField('priority', 'urgent')))).toBe(
        'field "priority" must be one of low, medium, high, critical, got "urgent"',
      );
      expect(reasonOf(parse(withField('request_type', 'sales')))).toBe(`${REQUEST_TYPE_ENUM}"sales"`);
    });

    it.each([
      ['an empty string', '', '""'],
      ['a whitespace-only string', '   ', '"   "'],
      ['a near miss with a space', 'feature request', '"feature request"'],
      ['a near miss with a hyphen', 'feature-request', '"feature-request"'],
      ['a value with an inner space', 'hi gh', '"hi gh"'],
      ['a number', 3, '3'],
      ['null', null, 'null'],
      ['an array', ['high'], 'an array'],
      ['an object', { level: 'high' }, 'an object'],
      ['a boolean', true, 'true'],
    ])('rejects %s', (_name, value, shown) => {
      expect(reasonOf(parse(withField('priority', value)))).toBe(
        `field "priority" must be one of low, medium, high, critical, got ${shown}`,
      );
    });

    it('truncates a long unknown value to 50 characters and escapes its newlines', () => {
      const reason = reasonOf(parse(withField('request_type', `a\nb${'z'.repeat(20_000)}`)));
      expect(reason).toBe(`${REQUEST_TYPE_ENUM}"a\\nb${'z'.repeat(47)}"...`);
    });

    it('escapes the Unicode line and paragraph separators in a quoted value', () => {
      const reason = reasonOf(parse(withField('priority', 'hi\u2028gh\u2029')));
      expect(reason).toBe(
        'field "priority" must be one of low, medium, high, critical, got "hi\\u2028gh\\u2029"',
      );
    });

    it('keeps a reason short even when escapes lengthen the quoted value', () => {
      reasonOf(parse(withField('priority', '\u0001'.repeat(5_000))));
    });
  });

  it('keeps a 20 KB valid record whole', () => {
    const request = `${'support '.repeat(2_500)}`;
    const ticket = ticketOf(parse({ ...VALID, request, padding: 'p'.repeat(5_000) }));
    expect(ticket.request).toBe(request);
  });

  it('rejects a 20 KB invalid record with a short reason', () => {
    const reason = reasonOf(parse({ ...VALID, request: 'x'.repeat(20_000), priority: 'p'.repeat(20_000) }));
    expect(reason).toMatch(/^field "priority" must be one of/);
  });

  it('round-trips the fields of any valid ticket serialized with JSON.stringify', () => {
    const instant = fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) });
    const spelling = (value: string) =>
      fc
        .tuple(fc.constantFrom('', ' ', '\t'), fc.boolean(), fc.constantFrom('', ' ', '\n'))
        .map(([before, upper, after]) => `${before}${upper ? value.toUpperCase() : value}${after}`);
    const nonBlank = fc.string({ unit: 'grapheme', minLength: 1 }).filter((s) => s.trim().length > 0);
    const ticket = fc.record({
      ticket_id: nonBlank,
      client_id: fc.oneof(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), nonBlank),
      at: instant,
      offsetMinutes: fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
      request: fc.string({ unit: 'grapheme' }),
      request_type: fc
        .constantFrom(...REQUEST_TYPES)
        .chain((t) => spelling(t).map((raw) => [t, raw] as const)),
      priority: fc.constantFrom(...PRIORITIES).chain((p) => spelling(p).map((raw) => [p, raw] as const)),
      extra: fc.dictionary(
        fc.string().filter((k) => !(k in VALID) && k !== '__proto__'),
        fc.jsonValue(),
      ),
    });
    fc.assert(
      fc.property(ticket, (t) => {
        const iso = new Date(t.at + t.offsetMinutes * 60_000).toISOString().slice(0, 23);
        const zone = offsetText(t.offsetMinutes);
        const record = {
          ...t.extra,
          ticket_id: t.ticket_id,
          client_id: t.client_id,
          created_at: iso + zone,
          request: t.request,
          request_type: t.request_type[1],
          priority: t.priority[1],
        };
        expect(parseTicket(JSON.stringify(record), context)).toStrictEqual({
          ticket_id: t.ticket_id,
          client_id: t.client_id,
          created_at_ms: t.at,
          request: t.request,
          request_type: t.request_type[0],
          priority: t.priority[0],
        });
      }),
      { numRuns: 1000 },
    );
  });
});

describe('validateTicket', () => {
  it('validates an already-parsed object like parseTicket does', () => {
    expect(validateTicket({ ...VALID })).toStrictEqual(parse(VALID));
    expect(reasonOf(validateTicket(withField('priority', 'urgent')))).toBe(
      reasonOf(parse(withField('priority', 'urgent'))),
    );
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['an array', [VALID]],
    ['a string', JSON.stringify(VALID)],
    ['a function', () => VALID],
  ])('rejects %s with "expected a JSON object"', (_name, value) => {
    expect(reasonOf(validateTicket(value))).toBe('expected a JSON object');
  });

  it('treats a property set to undefined as missing', () => {
    expect(reasonOf(validateTicket({ ...VALID, request: undefined }))).toBe('missing field "request"');
  });

  it('does not modify the input object', () => {
    const input = { ...VALID, priority: ' HIGH ' };
    validateTicket(input);
    expect(input.priority).toBe(' HIGH ');
  });
});
