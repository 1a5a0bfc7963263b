import { isRejection } from '@ticketflow/core';
import { expect } from 'vitest';
import { enrichTicket } from '../../src/domain/enrich';
import { generateTickets } from '../../src/domain/generator';
import { parseTicket } from '../../src/domain/validate';

/** The first `count` lines of the generator with this seed, as `generate` and `produce` make them. */
export function generatedTickets(count: number, seed: number, badFraction = 0): string[] {
  const tickets = generateTickets({ seed, badFraction });
  return Array.from({ length: count }, () => tickets.next().value);
}

/** Totals of a ticket file computed with plain loops, independent of the engine. */
export interface TicketTotals {
  readonly valid: number;
  readonly invalid: number;
  readonly byType: Record<string, number>;
  readonly byPriority: Record<string, number>;
  readonly byTeam: Record<string, number>;
  readonly byHour: Record<number, number>;
  /** Sum of `sla_hours` over valid tickets. */
  readonly slaSum: number;
}

/** Validates and enriches every line as the pipeline does, and counts. */
export function expectedTotals(lines: readonly string[]): TicketTotals {
  const byType: Record<string, number> = {};
  const byPriority: Record<string, number> = {};
  const byTeam: Record<string, number> = {};
  const byHour: Record<number, number> = {};
  let slaSum = 0;
  let valid = 0;
  let invalid = 0;
  for (const [i, line] of lines.entries()) {
    const ticket = parseTicket(line, { lane: 'input', offset: i });
    if (isRejection(ticket)) {
      invalid += 1;
      continue;
    }
    const t = enrichTicket(ticket);
    valid += 1;
    byType[t.request_type] = (byType[t.request_type] ?? 0) + 1;
    byPriority[t.priority] = (byPriority[t.priority] ?? 0) + 1;
    byTeam[t.support_team] = (byTeam[t.support_team] ?? 0) + 1;
    byHour[t.event_hour] = (byHour[t.event_hour] ?? 0) + 1;
    slaSum += t.sla_hours;
  }
  return { valid, invalid, byType, byPriority, byTeam, byHour, slaSum };
}

/** Adds up one list field of batch objects by key, such as `by_type` by `request_type`. */
export function sumRows(
  batches: ReadonlyArray<Record<string, unknown>>,
  field: string,
  key: string,
  value: string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of batches) {
    for (const row of b[field] as Array<Record<string, string | number>>) {
      out[row[key] as string] = (out[row[key] as string] ?? 0) + (row[value] as number);
    }
  }
  return out;
}

/**
 * Asserts that batch files hold `lines` exactly once: batch ids consecutive from 0, and the valid and
 * invalid tickets adding up to what {@link expectedTotals} counts without the engine.
 */
export function expectExact(batches: ReadonlyArray<Record<string, unknown>>, lines: readonly string[]): void {
  const expected = expectedTotals(lines);
  expect(batches.map((b) => b.batch_id)).toEqual(batches.map((_, i) => i));
  expect(batches.reduce((s, b) => s + (b.total_tickets as number), 0)).toBe(expected.valid);
  expect(batches.reduce((s, b) => s + (b.invalid_tickets as number), 0)).toBe(expected.invalid);
}
