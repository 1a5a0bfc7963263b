/**
 * Enrichment of validated tickets: UTC calendar fields, routing to a support team, the SLA and a priority
 * score, from tables that default to the design's and that a user may replace.
 *
 * @module
 */
import {
  type EnrichedTicket,
  PRIORITIES,
  type Priority,
  REQUEST_TYPES,
  type RequestType,
  type Ticket,
} from './ticket';
import { formatWithin, utcMinute } from './utc';

/**
 * Which team handles a request type: one team for every priority, or a team per priority (every priority
 * must be listed, so a table can never route a ticket nowhere).
 */
export type TeamRule = string | Readonly<Record<Priority, string>>;

/** The tables that drive {@link createEnricher}. */
export interface EnrichmentTables {
  /** The support team by request type, optionally split by priority. */
  readonly teams: Readonly<Record<RequestType, TeamRule>>;
  /** The SLA, in hours, by priority. */
  readonly slaHours: Readonly<Record<Priority, number>>;
  /** The priority score by priority, before {@link EnrichmentTables.securityBonus}. */
  readonly priorityScores: Readonly<Record<Priority, number>>;
  /** Added to the priority score of tickets whose request type is `security`. */
  readonly securityBonus: number;
}

/**
 * The design's tables: technical tickets go to Team Tech 1 when high or critical and to Team Tech 2 when
 * low or medium; every other request type has one team. SLAs are 1, 4, 24 and 72 hours for critical, high,
 * medium and low; scores are 1 to 4 from low to critical, plus 1 for security tickets.
 */
export const DEFAULT_ENRICHMENT: EnrichmentTables = Object.freeze({
  teams: Object.freeze({
    technical: Object.freeze({
      low: 'Team Tech 2',
      medium: 'Team Tech 2',
      high: 'Team Tech 1',
      critical: 'Team Tech 1',
    }),
    security: 'Security Ops Center',
    billing: 'Billing Team',
    account: 'Account Management',
    feature_request: 'Product Team',
    other: 'General Support',
  }),
  slaHours: Object.freeze({ critical: 1, high: 4, medium: 24, low: 72 }),
  priorityScores: Object.freeze({ low: 1, medium: 2, high: 3, critical: 4 }),
  securityBonus: 1,
});

/** What a request type and priority pair resolves to, computed once per enricher. */
interface Cell {
  readonly team: string;
  readonly slaHours: number;
  readonly slaMs: number;
  readonly score: number;
}

const MS_PER_HOUR = 3_600_000;

/**
 * Returns a function that enriches a validated {@link Ticket}. The given tables replace the defaults of
 * {@link DEFAULT_ENRICHMENT} key by key (`teams`, `slaHours`, `priorityScores`, `securityBonus`).
 *
 * Every request type and priority pair is resolved when the enricher is created, into a table of
 * 6 × 4 cells, so enriching a ticket is a couple of array reads, a cached look-up of its UTC minute
 * (see {@link utcMinute}) and one new object.
 *
 * `created_at` is computed eagerly, not by a lazy getter: a real string property survives spreading,
 * `structuredClone` and `JSON.stringify`, which a getter on a class prototype would not, and with the
 * minute cache it costs two string concatenations instead of a `toISOString` call.
 *
 * The returned function throws a `TypeError` for a ticket whose `request_type` or `priority` is not one of
 * the enumerations or whose `created_at_ms` is not an integer, and a `RangeError` for an instant outside
 * the range of `Date` (tickets that did not come from the validator).
 *
 * @throws TypeError when a table misses a team for a request type and priority, or holds an SLA, score or
 *   bonus that is not a finite number.
 *
 * @example
 * ```ts
 * const enrich = createEnricher({ slaHours: { critical: 2, high: 8, medium: 48, low: 120 } });
 * const enriched = enrich(ticket);
 * ```
 */
export function createEnricher(tables: Partial<EnrichmentTables> = {}): (ticket: Ticket) => EnrichedTicket {
  const cells = buildCells({ ...DEFAULT_ENRICHMENT, ...definedOnly(tables) });
  return (ticket) => {
    const cell = cells[requestTypeIndex(ticket.request_type) * 4 + priorityIndex(ticket.priority)];
    const createdAtMs = ticket.created_at_ms;
    if (cell === undefined || !Number.isInteger(createdAtMs)) throw notEnrichable(ticket);
    const minute = utcMinute(createdAtMs);
    return {
      ticket_id: ticket.ticket_id,
      client_id: ticket.client_id,
      created_at_ms: createdAtMs,
      request: ticket.request,
      request_type: ticket.request_type,
      priority: ticket.priority,
      created_at: formatWithin(minute, createdAtMs),
      event_date: minute.date,
      event_hour: minute.hour,
      support_team: cell.team,
      sla_hours: cell.slaHours,
      sla_deadline_ms: createdAtMs + cell.slaMs,
      priority_score: cell.score,
    };
  };
}

/** Enriches a validated ticket with {@link DEFAULT_ENRICHMENT}. */
export const enrichTicket: (ticket: Ticket) => EnrichedTicket = createEnricher();

function definedOnly(tables: Partial<EnrichmentTables>): Partial<EnrichmentTables> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(tables)) if (value !== undefined) result[key] = value;
  return result as Partial<EnrichmentTables>;
}

/** The cells of every request type and priority pair, at `requestTypeIndex * 4 + priorityIndex`. */
function buildCells(tables: EnrichmentTables): Cell[] {
  const bonus = finite(tables.securityBonus, 'securityBonus');
  const cells: Cell[] = [];
  for (const requestType of REQUEST_TYPES) {
    const rule: TeamRule | undefined = tables.teams[requestType];
    for (const priority of PRIORITIES) {
      const team = typeof rule === 'string' ? rule : rule?.[priority];
      if (typeof team !== 'string') {
        throw new TypeError(`enrichment table "teams" has no team for ${requestType}/${priority}`);
      }
      const slaHours = finite(tables.slaHours[priority], `slaHours.${priority}`);
      const score = finite(tables.priorityScores[priority], `priorityScores.${priority}`);
      cells[requestTypeIndex(requestType) * 4 + priorityIndex(priority)] = {
        team,
        slaHours,
        slaMs: slaHours * MS_PER_HOUR,
        score: requestType === 'security' ? score + bonus : score,
      };
    }
  }
  return cells;
}

function finite(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`enrichment table entry ${name} must be a finite number, got ${String(value)}`);
  }
  return value;
}

/** The position in {@link REQUEST_TYPES}, or a large number that selects no cell. */
function requestTypeIndex(requestType: string): number {
  switch (requestType) {
    case 'technical':
      return 0;
    case 'billing':
      return 1;
    case 'account':
      return 2;
    case 'security':
      return 3;
    case 'feature_request':
      return 4;
    case 'other':
      return 5;
    default:
      return 1000;
  }
}

/** The position in {@link PRIORITIES}, or a large number that selects no cell. */
function priorityIndex(priority: string): number {
  switch (priority) {
    case 'low':
      return 0;
    case 'medium':
      return 1;
    case 'high':
      return 2;
    case 'critical':
      return 3;
    default:
      return 1000;
  }
}

function notEnrichable(ticket: Ticket): TypeError {
  const { ticket_id: id, request_type: requestType, priority, created_at_ms: ms } = ticket;
  return new TypeError(
    `cannot enrich ticket ${JSON.stringify(id)}: request_type ${JSON.stringify(requestType)}, priority ` +
      `${JSON.stringify(priority)} and created_at_ms ${ms} must come from the validator`,
  );
}
