import type { DashboardView } from '@ticketflow/ops';
import type { TicketMetrics } from '../ticket-metrics';

/** Rows of a count by key, as a `{ key: count }` map. */
function byKey<T>(rows: readonly T[], key: (row: T) => string | number, value: (row: T) => number) {
  const out: Record<string, number> = {};
  for (const row of rows) out[String(key(row))] = value(row);
  return out;
}

/**
 * The ticket pipeline's panels on the live dashboard (`/`): the SLA quantiles and means of each batch,
 * in hours, and its tickets per team, per priority and per request type.
 */
export function ticketDashboardView(metrics: unknown): DashboardView {
  const m = metrics as TicketMetrics;
  const { median, p90, p99 } = m.sla.quantiles;
  return {
    values: {
      'SLA p50 (h)': median,
      'SLA p90 (h)': p90,
      'SLA p99 (h)': p99,
      'SLA mean (h)': m.sla_mean,
      'priority score mean': m.priority_score_mean,
    },
    keyed: {
      'tickets per team': byKey(
        m.by_team,
        (r) => r.support_team,
        (r) => r.count_by_support_team,
      ),
      'tickets per priority': byKey(
        m.by_priority,
        (r) => r.priority,
        (r) => r.count_by_priority,
      ),
      'tickets per type': byKey(
        m.by_type,
        (r) => r.request_type,
        (r) => r.count_by_request_type,
      ),
    },
  };
}
