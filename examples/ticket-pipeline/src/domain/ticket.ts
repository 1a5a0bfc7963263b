/**
 * The ticket record of the example pipeline: the values a validated ticket may hold and the shapes of a
 * validated and an enriched ticket. The rules live in `validate.ts` and `enrich.ts`.
 *
 * @module
 */

/** The request types a ticket may carry, in their normalized (lowercase) spelling. */
export const REQUEST_TYPES = [
  'technical',
  'billing',
  'account',
  'security',
  'feature_request',
  'other',
] as const;

/** The priorities a ticket may carry, in their normalized (lowercase) spelling, from lowest to highest. */
export const PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;

/** One of {@link REQUEST_TYPES}. */
export type RequestType = (typeof REQUEST_TYPES)[number];

/** One of {@link PRIORITIES}. */
export type Priority = (typeof PRIORITIES)[number];

/**
 * A ticket that passed validation. Field names follow the input record; `created_at` has already been
 * converted to a UTC instant, and the enumerations are normalized to their lowercase spelling.
 */
export interface Ticket {
  /** The ticket's identifier, as given (a string with at least one non-whitespace character). */
  readonly ticket_id: string;
  /** The client's identifier as given: a string with a non-whitespace character, or a safe integer >= 1. */
  readonly client_id: string | number;
  /** When the ticket was created, as UTC epoch milliseconds (sub-millisecond digits truncated). */
  readonly created_at_ms: number;
  /** The free-text request, as given; may be empty. */
  readonly request: string;
  /** The request type, normalized to lowercase. */
  readonly request_type: RequestType;
  /** The priority, normalized to lowercase. */
  readonly priority: Priority;
}

/** A validated ticket with the fields the enrichment step derives from it. */
export interface EnrichedTicket extends Ticket {
  /** `created_at_ms` as ISO-8601 UTC text with milliseconds and a `Z`: `2026-03-01T23:30:00.000Z`. */
  readonly created_at: string;
  /** The UTC calendar day of `created_at_ms`, as `YYYY-MM-DD`. */
  readonly event_date: string;
  /** The UTC hour of `created_at_ms`, 0 to 23. */
  readonly event_hour: number;
  /** The team the ticket is routed to. */
  readonly support_team: string;
  /** The service-level target for the ticket's priority, in hours. */
  readonly sla_hours: number;
  /** When the SLA expires: `created_at_ms + sla_hours` hours, as UTC epoch milliseconds. */
  readonly sla_deadline_ms: number;
  /** A numeric weight of the ticket's urgency, used for the batch's mean priority score. */
  readonly priority_score: number;
}
