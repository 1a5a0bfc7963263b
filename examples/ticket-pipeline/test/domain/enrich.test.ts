import { isRejection, type RecordContext } from '@ticketflow/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createEnricher,
  DEFAULT_ENRICHMENT,
  type EnrichmentTables,
  enrichTicket,
} from '../../src/domain/enrich';
import {
  PRIORITIES,
  type Priority,
  REQUEST_TYPES,
  type RequestType,
  type Ticket,
} from '../../src/domain/ticket';
import { parseTicket } from '../../src/domain/validate';

const context: RecordContext = { lane: 'test', offset: 0 };

function ticket(overrides: Partial<Ticket> = {}): Ticket {
  return {
    ticket_id: 't-1',
    client_id: 42,
    created_at_ms: Date.UTC(2026, 2, 1, 10, 15, 30, 250),
    request: 'Printer on fire',
    request_type: 'technical',
    priority: 'high',
    ...overrides,
  };
}

/** Parses a record whose only interesting field is created_at, then enriches it. */
function enrichedAt(createdAt: string) {
  const parsed = parseTicket(
    JSON.stringify({
      ticket_id: 't',
      client_id: 1,
      created_at: createdAt,
      request: '',
      request_type: 'other',
      priority: 'low',
    }),
    context,
  );
  if (isRejection(parsed)) throw new Error(parsed.reason);
  return enrichTicket(parsed);
}

const TEAM_TABLE: ReadonlyArray<readonly [RequestType, Priority, string]> = [
  ['technical', 'critical', 'Team Tech 1'],
  ['technical', 'high', 'Team Tech 1'],
  ['technical', 'medium', 'Team Tech 2'],
  ['technical', 'low', 'Team Tech 2'],
  ...PRIORITIES.map((p) => ['security', p, 'Security Ops Center'] as const),
  ...PRIORITIES.map((p) => ['billing', p, 'Billing Team'] as const),
  ...PRIORITIES.map((p) => ['account', p, 'Account Management'] as const),
  ...PRIORITIES.map((p) => ['feature_request', p, 'Product Team'] as const),
  ...PRIORITIES.map((p) => ['other', p, 'General Support'] as const),
];

describe('enrichTicket', () => {
  it('keeps the ticket fields and adds the derived ones', () => {
    expect(enrichTicket(ticket())).toStrictEqual({
      ticket_id: 't-1',
      client_id: 42,
      created_at_ms: Date.UTC(2026, 2, 1, 10, 15, 30, 250),
      request: 'Printer on fire',
      request_type: 'technical',
      priority: 'high',
      created_at: '2026-03-01T10:15:30.250Z',
      event_date: '2026-03-01',
      event_hour: 10,
      support_team: 'Team Tech 1',
      sla_hours: 4,
      sla_deadline_ms: Date.UTC(2026, 2, 1, 14, 15, 30, 250),
      priority_score: 3,
    });
  });

  it('covers every request type and priority pair in the team table', () => {
    expect(TEAM_TABLE).toHaveLength(REQUEST_TYPES.length * PRIORITIES.length);
  });

  it.each(TEAM_TABLE)('routes %s tickets of %s priority to %s', (requestType, priority, team) => {
    expect(enrichTicket(ticket({ request_type: requestType, priority })).support_team).toBe(team);
  });

  it.each([
    ['critical', 1],
    ['high', 4],
    ['medium', 24],
    ['low', 72],
  ] as const)('gives %s tickets an SLA of %i hours and the matching deadline', (priority, hours) => {
    for (const requestType of REQUEST_TYPES) {
      const enriched = enrichTicket(ticket({ request_type: requestType, priority }));
      expect(enriched.sla_hours).toBe(hours);
      expect(enriched.sla_deadline_ms).toBe(enriched.created_at_ms + hours * 3_600_000);
    }
  });

  it.each([
    ['low', 1],
    ['medium', 2],
    ['high', 3],
    ['critical', 4],
  ] as const)('scores %s tickets %i, plus 1 for security', (priority, score) => {
    for (const requestType of REQUEST_TYPES) {
      const expected = requestType === 'security' ? score + 1 : score;
      expect(enrichTicket(ticket({ request_type: requestType, priority })).priority_score).toBe(expected);
    }
  });

  describe('UTC calendar fields', () => {
    it.each([
      ['a negative offset into the next UTC day', '2026-03-01T23:30:00-02:00', '2026-03-02', 1],
      ['a positive offset into the previous UTC day', '2026-03-01T00:30:00+02:00', '2026-02-28', 22],
      ['a positive offset across a leap day', '2024-03-01T00:30:00+02:00', '2024-02-29', 22],
      ['a negative offset into the next UTC year', '2026-12-31T23:00:00-01:00', '2027-01-01', 0],
      ['an offset of almost a day', '2026-03-01T00:00:00+23:59', '2026-02-28', 0],
      ['the last millisecond of a UTC day', '2026-03-01T23:59:59.999Z', '2026-03-01', 23],
      ['the first millisecond of a UTC day', '2026-03-02T00:00:00.000Z', '2026-03-02', 0],
      ['a date before 1970', '1969-07-20T20:17:40Z', '1969-07-20', 20],
    ])('places %s on the right event_date and event_hour', (_name, createdAt, date, hour) => {
      const enriched = enrichedAt(createdAt);
      expect(enriched.event_date).toBe(date);
      expect(enriched.event_hour).toBe(hour);
      expect(enriched.created_at.slice(0, 10)).toBe(date);
    });

    it('writes created_at as ISO-8601 UTC with milliseconds and a Z', () => {
      expect(enrichedAt('2026-03-01T23:30:00-02:00').created_at).toBe('2026-03-02T01:30:00.000Z');
      expect(enrichedAt('2026-03-01T10:00:00.123456+05:30').created_at).toBe('2026-03-01T04:30:00.123Z');
      // The first UTC hour of year 0000, given with an offset (an earlier instant is refused: year -1).
      expect(enrichedAt('0000-01-01T01:30:00+01:00').created_at).toBe('0000-01-01T00:30:00.000Z');
    });

    it('matches Date.prototype.toISOString and getUTCHours for any instant', () => {
      const instant = fc.integer({
        min: Date.parse('0000-01-01T00:00:00Z'),
        max: Date.parse('9999-12-31T23:59:59.999Z'),
      });
      fc.assert(
        fc.property(instant, (ms) => {
          const enriched = enrichTicket(ticket({ created_at_ms: ms }));
          const iso = new Date(ms).toISOString();
          expect(enriched.created_at).toBe(iso);
          expect(enriched.event_date).toBe(iso.slice(0, iso.indexOf('T')));
          expect(enriched.event_hour).toBe(new Date(ms).getUTCHours());
        }),
        { numRuns: 5000 },
      );
    });

    it('stays right when instants far apart alternate (they share a cache slot)', () => {
      const first = Date.UTC(2026, 2, 1, 10, 0, 1);
      const second = first + 4096 * 60_000; // same slot of a 4096-minute cache
      for (let i = 0; i < 3; i++) {
        for (const ms of [first, second, first + 59_999, second + 1]) {
          expect(enrichTicket(ticket({ created_at_ms: ms })).created_at).toBe(new Date(ms).toISOString());
        }
      }
    });
  });

  it('returns plain data that survives spreading, structuredClone and JSON', () => {
    const enriched = enrichTicket(ticket());
    expect({ ...enriched }).toStrictEqual(enriched);
    expect(structuredClone(enriched)).toStrictEqual(enriched);
    expect(JSON.parse(JSON.stringify(enriched))).toStrictEqual(enriched);
  });

  it('rejects, with a TypeError, a ticket that did not come from the validator', () => {
    expect(() => enrichTicket(ticket({ priority: 'HIGH' as Priority }))).toThrow(TypeError);
    expect(() => enrichTicket(ticket({ request_type: 'sales' as RequestType }))).toThrow(
      /request_type "sales"/,
    );
    expect(() => enrichTicket(ticket({ created_at_ms: Number.NaN }))).toThrow(TypeError);
    expect(() => enrichTicket(ticket({ created_at_ms: 1.5 }))).toThrow(TypeError);
  });
});

describe('DEFAULT_ENRICHMENT', () => {
  it('holds the tables of the design', () => {
    expect(DEFAULT_ENRICHMENT.slaHours).toStrictEqual({ critical: 1, high: 4, medium: 24, low: 72 });
    expect(DEFAULT_ENRICHMENT.priorityScores).toStrictEqual({ low: 1, medium: 2, high: 3, critical: 4 });
    expect(DEFAULT_ENRICHMENT.securityBonus).toBe(1);
    expect(Object.keys(DEFAULT_ENRICHMENT.teams).sort()).toEqual([...REQUEST_TYPES].sort());
  });

  it('is frozen, so no caller can change the defaults of another', () => {
    expect(Object.isFrozen(DEFAULT_ENRICHMENT)).toBe(true);
    expect(Object.isFrozen(DEFAULT_ENRICHMENT.teams)).toBe(true);
    expect(Object.isFrozen(DEFAULT_ENRICHMENT.teams.technical)).toBe(true);
    expect(Object.isFrozen(DEFAULT_ENRICHMENT.slaHours)).toBe(true);
  });
});

describe('createEnricher', () => {
  it('uses the default tables when given none or an empty object', () => {
    const tickets = REQUEST_TYPES.flatMap((t) =>
      PRIORITIES.map((p) => ticket({ request_type: t, priority: p })),
    );
    for (const enrich of [createEnricher(), createEnricher({}), createEnricher({ teams: undefined })]) {
      for (const t of tickets) expect(enrich(t)).toStrictEqual(enrichTicket(t));
    }
  });

  it('replaces only the tables it is given', () => {
    const enrich = createEnricher({ slaHours: { critical: 2, high: 8, medium: 48, low: 120 } });
    const enriched = enrich(ticket({ priority: 'critical' }));
    expect(enriched.sla_hours).toBe(2);
    expect(enriched.sla_deadline_ms).toBe(enriched.created_at_ms + 2 * 3_600_000);
    expect(enriched.support_team).toBe('Team Tech 1');
    expect(enriched.priority_score).toBe(4);
  });

  it('routes with a custom team table, split by priority where asked', () => {
    const teams: EnrichmentTables['teams'] = {
      technical: 'Engineering',
      billing: { low: 'Billing L1', medium: 'Billing L1', high: 'Billing L2', critical: 'Finance On-Call' },
      account: 'Accounts',
      security: 'SOC',
      feature_request: 'Product',
      other: 'Helpdesk',
    };
    const enrich = createEnricher({ teams });
    expect(enrich(ticket({ request_type: 'technical', priority: 'low' })).support_team).toBe('Engineering');
    expect(enrich(ticket({ request_type: 'technical', priority: 'critical' })).support_team).toBe(
      'Engineering',
    );
    expect(enrich(ticket({ request_type: 'billing', priority: 'medium' })).support_team).toBe('Billing L1');
    expect(enrich(ticket({ request_type: 'billing', priority: 'critical' })).support_team).toBe(
      'Finance On-Call',
    );
    expect(enrich(ticket({ request_type: 'other' })).support_team).toBe('Helpdesk');
  });

  it('applies custom scores and security bonus', () => {
    const enrich = createEnricher({
      priorityScores: { low: 10, medium: 20, high: 30, critical: 40 },
      securityBonus: 5,
    });
    expect(enrich(ticket({ request_type: 'billing', priority: 'medium' })).priority_score).toBe(20);
    expect(enrich(ticket({ request_type: 'security', priority: 'medium' })).priority_score).toBe(25);
    const noBonus = createEnricher({ securityBonus: 0 });
    expect(noBonus(ticket({ request_type: 'security', priority: 'critical' })).priority_score).toBe(4);
  });

  it('accepts fractional SLA hours', () => {
    const enrich = createEnricher({ slaHours: { critical: 0.5, high: 4, medium: 24, low: 72 } });
    const enriched = enrich(ticket({ priority: 'critical' }));
    expect(enriched.sla_hours).toBe(0.5);
    expect(enriched.sla_deadline_ms).toBe(enriched.created_at_ms + 1_800_000);
  });

  it('is not affected by later changes to the tables it was given', () => {
    const slaHours = { critical: 1, high: 4, medium: 24, low: 72 };
    const enrich = createEnricher({ slaHours });
    slaHours.critical = 99;
    expect(enrich(ticket({ priority: 'critical' })).sla_hours).toBe(1);
  });

  it('refuses tables that leave a ticket without a team or a number', () => {
    const teams = { ...DEFAULT_ENRICHMENT.teams, technical: { low: 'A', medium: 'B', high: 'C' } };
    expect(() => createEnricher({ teams: teams as unknown as EnrichmentTables['teams'] })).toThrow(
      /no team for technical\/critical/,
    );
    const { other: _dropped, ...withoutOther } = DEFAULT_ENRICHMENT.teams;
    expect(() => createEnricher({ teams: withoutOther as EnrichmentTables['teams'] })).toThrow(/other\/low/);
    expect(() => createEnricher({ slaHours: { ...DEFAULT_ENRICHMENT.slaHours, low: Number.NaN } })).toThrow(
      /slaHours\.low must be a finite number/,
    );
    expect(() =>
      createEnricher({
        priorityScores: { ...DEFAULT_ENRICHMENT.priorityScores, high: '3' as unknown as number },
      }),
    ).toThrow(TypeError);
    expect(() => createEnricher({ securityBonus: Number.POSITIVE_INFINITY })).toThrow(/securityBonus/);
  });
});
