import {
  type Batch,
  composeSteps,
  count,
  countBy,
  digest,
  type EventTimeOptions,
  type FinalWindow,
  groupBy,
  mapResult,
  mean,
  metrics,
  type Step,
  tumblingWindow,
} from '@ticketflow/core';
import { createEnricher, type EnrichmentTables } from './domain/enrich';
import type { EnrichedTicket } from './domain/ticket';
import { parseTicket } from './domain/validate';

const slaHours = (t: EnrichedTicket) => t.sla_hours;

const countRows = {
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
};

const slaMetrics = {
  sla_mean: mean(slaHours),
  // One sketch serves the median, the tails and the serialized digest (Trino's tdigest, for Athena).
  sla: digest(slaHours, { quantiles: { median: 0.5, p90: 0.9, p99: 0.99 } }),
  priority_score_mean: mean((t: EnrichedTicket) => t.priority_score),
  sla_mean_by_team: mapResult(
    groupBy((t: EnrichedTicket) => t.support_team, mean(slaHours)),
    (rows) => rows.map(({ key, value }) => ({ support_team: key, sla_mean: value })),
  ),
};

const perHour = mapResult(
  countBy((t: EnrichedTicket) => t.event_hour),
  (rows) => rows.map(({ key, count: n }) => ({ hour: key, tickets_per_hour: n })),
);

/**
 * The metrics folded over each micro-batch of enriched tickets, and over each rollup window (whose
 * files leave the per-day, and for an hour the per-hour, lists out). One aggregator for all lets the
 * engine fold each ticket once: into its hour, which is merged into its day and into its batch.
 */
export const ticketMetrics = metrics({
  total_tickets: count(),
  tickets_per_hour: perHour,
  tickets_per_day: mapResult(
    countBy((t: EnrichedTicket) => t.event_date),
    (rows) => rows.map(({ key, count: n }) => ({ day: key, tickets_per_day: n })),
  ),
  ...countRows,
  ...slaMetrics,
});

/** The result of {@link ticketMetrics} for one batch. */
export type TicketMetrics = ReturnType<typeof ticketMetrics.result>;

/** A rollup granularity of `--rollups`. */
export type Rollup = 'hour' | 'day';

/** Names of the rollup windows: the folders of their files under the output location. */
export const ROLLUP_WINDOWS = { hour: 'hourly', day: 'daily' } as const;

/**
 * The event-time windows of `--rollups` over `created_at` (UTC hours and days, see DESIGN "Event-time
 * rollups"); `undefined` when no rollup is asked for.
 */
export function ticketRollups(
  rollups: readonly Rollup[],
  options: { readonly allowedLateness: number; readonly idleTimeout: number },
): EventTimeOptions<EnrichedTicket> | undefined {
  if (rollups.length === 0) return undefined;
  const windows = [];
  if (rollups.includes('hour'))
    windows.push(tumblingWindow({ name: ROLLUP_WINDOWS.hour, size: '1h', metrics: ticketMetrics }));
  if (rollups.includes('day'))
    windows.push(tumblingWindow({ name: ROLLUP_WINDOWS.day, size: '24h', metrics: ticketMetrics }));
  return {
    timestamp: (t) => t.created_at_ms,
    windows,
    allowedLateness: options.allowedLateness,
    idleTimeout: options.idleTimeout,
  };
}

type SlaFields = Pick<TicketMetrics, 'sla_mean' | 'sla' | 'priority_score_mean' | 'sla_mean_by_team'>;

/** The SLA fields of a batch or rollup file, in the contract's order. */
function slaFields(m: SlaFields) {
  const { median, p90, p99 } = m.sla.quantiles;
  return {
    sla_mean: m.sla_mean,
    sla_median: median,
    priority_score_mean: m.priority_score_mean,
    sla_p90: p90,
    sla_p99: p99,
    sla_mean_by_team: m.sla_mean_by_team,
    sla_tdigest: m.sla.tdigest,
  };
}

/**
 * The batch metrics file of the output contract: field names and order as the dashboards expect them.
 * `late_tickets` counts the batch's tickets whose finest rollup window (the hour with `--rollups hour`)
 * was already final; `watermark` is the event-time watermark after the batch (`null` without rollups).
 * A batch that accepted a loss of records (`--on-data-loss continue`) adds, last, `data_loss`:
 * `[{"lane": "topic/partition", "expected_offset": n, "first_available_offset": n, "lost": n}]`; the
 * field is absent when nothing was lost, so that such files keep exactly the contract's fields.
 */
export function formatTicketBatch(batch: Batch<TicketMetrics>): Record<string, unknown> {
  const m = batch.metrics;
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
  const late = batch.lateRecords ?? {};
  const finest = late[ROLLUP_WINDOWS.hour] ?? late[ROLLUP_WINDOWS.day] ?? 0;
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
    ...slaFields(m),
    late_tickets: finest,
    watermark: batch.watermark ? batch.watermark.toISOString() : null,
    ...dataLoss,
  };
}

/**
 * A rollup file (`hourly/dt=…/hour=…/metrics.json`, `daily/dt=…/metrics.json`): the window's bounds,
 * its metrics in the batch file's order (the daily file adds `tickets_per_hour`), and
 * `final_batch_id`, the batch that made it final.
 */
export function formatTicketRollup(window: FinalWindow, batch: Batch<unknown>): Record<string, unknown> {
  const m = window.metrics as TicketMetrics;
  return {
    window_start: window.windowStart.toISOString(),
    window_end: window.windowEnd.toISOString(),
    total_tickets: m.total_tickets,
    ...(window.name === ROLLUP_WINDOWS.day ? { tickets_per_hour: m.tickets_per_hour } : {}),
    by_type: m.by_type,
    by_priority: m.by_priority,
    by_team: m.by_team,
    ...slaFields(m),
    final_batch_id: batch.batchId,
  };
}

/** Parses, validates and enriches one raw ticket; `tables` replaces the default enrichment tables. */
export function ticketDecoder(tables: Partial<EnrichmentTables> = {}): Step<string, EnrichedTicket> {
  const enrich = createEnricher(tables);
  return composeSteps(parseTicket, (ticket) => enrich(ticket));
}
