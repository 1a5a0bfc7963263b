import {
  type Batch,
  composeSteps,
  count,
  countBy,
  groupBy,
  mapResult,
  mean,
  metrics,
  quantiles,
  type Step,
} from '@ticketflow/core';
import { createEnricher, type EnrichmentTables } from './domain/enrich';
import type { EnrichedTicket } from './domain/ticket';
import { parseTicket } from './domain/validate';

const slaHours = (t: EnrichedTicket) => t.sla_hours;

/** The metrics folded over each micro-batch of enriched tickets. */
export const ticketMetrics = metrics({
  total_tickets: count(),
  tickets_per_hour: mapResult(
    countBy((t: EnrichedTicket) => t.event_hour),
    (rows) => rows.map(({ key, count: n }) => ({ hour: key, tickets_per_hour: n })),
  ),
  tickets_per_day: mapResult(
    countBy((t: EnrichedTicket) => t.event_date),
    (rows) => rows.map(({ key, count: n }) => ({ day: key, tickets_per_day: n })),
  ),
  by_type: mapResult(
    countBy((t: EnrichedTicket) => t.request_type),
    (rows) => rows.map(({ key, count: n }) => ({ request_type: key, count_by_request_type: n })),
  ),
  by_priority: mapResult(
    countBy((t: EnrichedTicket) => t.priority),
    (rows) => rows.map(({ key, count: n }) => ({ priority: key, count_by_priority: n })),
  ),
  by_team: mapResult(
    countBy((t: EnrichedTicket) => t.support_team),
    (rows) => rows.map(({ key, count: n }) => ({ support_team: key, count_by_support_team: n })),
  ),
  sla_mean: mean(slaHours),
  // One sketch serves the median and the tails.
  sla_quantiles: quantiles(slaHours, [0.5, 0.9, 0.99]),
  priority_score_mean: mean((t: EnrichedTicket) => t.priority_score),
  sla_mean_by_team: mapResult(
    groupBy((t: EnrichedTicket) => t.support_team, mean(slaHours)),
    (rows) => rows.map(({ key, value }) => ({ support_team: key, sla_mean: value })),
  ),
});

/** The result of {@link ticketMetrics} for one batch. */
export type TicketMetrics = ReturnType<typeof ticketMetrics.result>;

/**
 * The batch metrics file of the output contract: field names and order as the dashboards expect them.
 * A batch that accepted a loss of records (`--on-data-loss continue`) adds, last, `data_loss`:
 * `[{"lane": "topic/partition", "expected_offset": n, "first_available_offset": n, "lost": n}]`; the
 * field is absent when nothing was lost, so that such files keep exactly the contract's fields.
 */
export function formatTicketBatch(batch: Batch<TicketMetrics>): Record<string, unknown> {
  const m = batch.metrics;
  const [slaMedian = null, slaP90 = null, slaP99 = null] = m.sla_quantiles;
  const lost = batch.dataLoss ?? [];
  const dataLoss =
    lost.length === 0
      ? {}
      : {
          data_loss: lost.map((l) => ({
            lane: l.lane,
            expected_offset: l.expected,
            first_available_offset: l.firstAvailable,
            lost: l.lost,
          })),
        };
  return {
    batch_id: batch.batchId,
    window_start: batch.windowStart.toISOString(),
    window_end: batch.windowEnd.toISOString(),
    total_tickets: m.total_tickets,
    invalid_tickets: batch.invalidRecords,
    tickets_per_hour: m.tickets_per_hour,
    tickets_per_day: m.tickets_per_day,
    by_type: m.by_type,
    by_priority: m.by_priority,
    by_team: m.by_team,
    sla_mean: m.sla_mean,
    sla_median: slaMedian,
    priority_score_mean: m.priority_score_mean,
    sla_p90: slaP90,
    sla_p99: slaP99,
    sla_mean_by_team: m.sla_mean_by_team,
    ...dataLoss,
  };
}

/** Parses, validates and enriches one raw ticket; `tables` replaces the default enrichment tables. */
export function ticketDecoder(tables: Partial<EnrichmentTables> = {}): Step<string, EnrichedTicket> {
  const enrich = createEnricher(tables);
  return composeSteps(parseTicket, (ticket) => enrich(ticket));
}
