import type { BatchProgress, FinalWindowProgress, LaneLag } from '@ticketflow/core';
import type { HealthReport } from './health';

/**
 * A pipeline's own figures for one batch, as the dashboard charts them: computed by
 * {@link DashboardOptions.view} from the batch's metrics (`BatchProgress.metrics`, the aggregators'
 * results).
 *
 * @example
 * ```ts
 * const view: DashboardView = {
 *   values: { 'SLA p50 (h)': 4, 'SLA p90 (h)': 22.5, 'SLA p99 (h)': null },
 *   keyed: { 'tickets per team': { 'Billing Team': 12, 'Network Team': 3 } },
 * };
 * ```
 */
export interface DashboardView {
  /**
   * Numeric figures by display name (a line each on the values chart); `null` when the batch has none
   * (an empty quantile). A value that is not a finite number is sent as `null`.
   */
  readonly values?: Readonly<Record<string, number | null>>;
  /**
   * Counts by key, by display name (bars of the latest batch); entries that are not finite numbers are
   * left out.
   */
  readonly keyed?: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** The dashboard's settings (the `dashboard` option of `serveOperations`). */
export interface DashboardOptions {
  /** The page's title. Default `'ticketflow'`. */
  readonly title?: string;
  /**
   * Maps a batch's metrics (`BatchProgress.metrics`, typed `unknown`: cast it to the pipeline's
   * metrics type) to the figures the dashboard charts. Without it, batches carry no `values` or
   * `keyed`. Called once per committed batch; a throw is logged (once) and the batch charted without
   * them. Return only numbers: they are sent to every dashboard as they are.
   */
  readonly view?: (metrics: unknown) => DashboardView;
}

/** Step durations of a batch, in ms (see `BatchDurations` of `@ticketflow/core`). */
export interface BatchDurationsView {
  readonly fold: number;
  readonly plan: number;
  readonly deadLetters: number;
  readonly write: number;
  readonly commit: number;
  readonly acknowledge: number;
  readonly total: number;
}

/** An event-time window still open after a batch, in a {@link BatchView}. */
export interface OpenWindowView {
  /** The window's name, such as `'hourly'`. */
  readonly name: string;
  /** Its start, ISO 8601 UTC. */
  readonly windowStart: string;
  /** Its end (exclusive), ISO 8601 UTC. */
  readonly windowEnd: string;
  /** Records it holds so far. */
  readonly records: number;
}

/** One committed batch, as the `batch` event of `/events` sends it. */
export interface BatchView {
  /** The batch id. */
  readonly batchId: number;
  /** The processing-time window's start, ISO 8601 UTC. */
  readonly windowStart: string;
  /** The processing-time window's end, ISO 8601 UTC (the x of the dashboard's charts). */
  readonly windowEnd: string;
  /** Records read, valid and invalid. */
  readonly inputRecords: number;
  /** Valid records. */
  readonly records: number;
  /** Invalid records (sent to the dead letters). */
  readonly invalidRecords: number;
  /** Records read per second of window time. */
  readonly inputRecordsPerSecond: number;
  /** Records per second of processing time. */
  readonly processedRecordsPerSecond: number;
  /** Step durations, in ms. */
  readonly durationMs: BatchDurationsView;
  /** True when the batch was rebuilt after a crash. */
  readonly replayed: boolean;
  /** Records lost before they could be read (retention), accepted into this batch; 0 when none. */
  readonly lostRecords: number;
  /** With event-time windows: the watermark after the batch, ISO 8601 UTC; `null` otherwise. */
  readonly watermark: string | null;
  /** Late records of the batch's finest event-time window (its first); `null` without windows. */
  readonly late: number | null;
  /** The pipeline's figures (see {@link DashboardView.values}); empty without a view. */
  readonly values: Readonly<Record<string, number | null>>;
  /** The pipeline's counts by key (see {@link DashboardView.keyed}); empty without a view. */
  readonly keyed: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Event-time windows still open after the batch; empty without windows. */
  readonly openWindows: readonly OpenWindowView[];
}

/** One final event-time window, as the `window` event of `/events` sends it. */
export interface WindowView {
  /** The batch that made it final. */
  readonly batchId: number;
  /** The window's name, such as `'hourly'`. */
  readonly name: string;
  /** Its start, ISO 8601 UTC. */
  readonly windowStart: string;
  /** Its end (exclusive), ISO 8601 UTC. */
  readonly windowEnd: string;
  /** Records it holds. */
  readonly records: number;
  /** Where the sink wrote it (a path or URL). */
  readonly output: string;
}

/** Totals since the process started, in `history` and `status` events. */
export interface DashboardTotals {
  /** Batches committed. */
  readonly batches: number;
  /** Records read (valid and invalid) in committed batches, as `ticketflow_records_total` counts them. */
  readonly records: number;
  /** Invalid records in committed batches. */
  readonly invalid: number;
  /** Late records (see {@link BatchView.late}); `null` until a batch with event-time windows. */
  readonly late: number | null;
  /** The last committed batch's id; `null` before the first. */
  readonly lastBatchId: number | null;
  /** When the last batch was committed, ISO 8601 UTC; `null` before the first. */
  readonly lastBatchAt: string | null;
  /** The last batch's watermark, ISO 8601 UTC; `null` without event-time windows or before any record. */
  readonly watermark: string | null;
}

/** The `history` event of `/events`: the first event each client receives. */
export interface DashboardHistory {
  /** {@link DashboardOptions.title}. */
  readonly title: string;
  /** The source's name. */
  readonly source: string;
  /** The `/healthz` body. */
  readonly health: HealthReport;
  readonly totals: DashboardTotals;
  /** The last `historySize` batches, oldest first. */
  readonly batches: readonly BatchView[];
  /** The last 200 final windows, oldest first. */
  readonly windows: readonly WindowView[];
  /** The source's current lag per lane; empty when it reports none. */
  readonly lag: readonly LaneLag[];
}

/** The `status` event of `/events`. */
export interface DashboardStatus {
  /** The `/healthz` body. */
  readonly health: HealthReport;
  readonly totals: DashboardTotals;
  /** The source's current lag per lane; empty when it reports none. */
  readonly lag: readonly LaneLag[];
  /** Whether the source reaches its input; `null` when it cannot tell. */
  readonly connected: boolean | null;
}

/** Final windows kept for the `history` event. */
export const WINDOW_HISTORY = 200;

/** The view's numbers, checked: only finite numbers (or `null`) leave the process. */
function cleanView(view: DashboardView): Pick<BatchView, 'values' | 'keyed'> {
  const values: Record<string, number | null> = {};
  for (const [name, value] of Object.entries(view.values ?? {}))
    values[name] = typeof value === 'number' && Number.isFinite(value) ? value : null;
  const keyed: Record<string, Record<string, number>> = {};
  for (const [name, counts] of Object.entries(view.keyed ?? {})) {
    const out: Record<string, number> = {};
    for (const [key, n] of Object.entries(counts ?? {}))
      if (typeof n === 'number' && Number.isFinite(n)) out[key] = n;
    keyed[name] = out;
  }
  return { values, keyed };
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** The dashboard's state: totals, bounded history, and the views of new batches and windows. @internal */
export interface DashboardFeed {
  /** Records a committed batch; returns its view. */
  batch(progress: BatchProgress, at: Date): BatchView;
  /** Records a final window; returns its view. */
  window(batchId: number, window: FinalWindowProgress): WindowView;
  totals(): DashboardTotals;
  history(health: HealthReport, lag: readonly LaneLag[]): DashboardHistory;
}

/** @internal */
export function createDashboardFeed(options: {
  readonly title: string;
  readonly source: string;
  readonly historySize: number;
  readonly view?: ((metrics: unknown) => DashboardView) | undefined;
  readonly onViewError: (error: unknown) => void;
}): DashboardFeed {
  const batches: BatchView[] = [];
  const windows: WindowView[] = [];
  let totals: DashboardTotals = {
    batches: 0,
    records: 0,
    invalid: 0,
    late: null,
    lastBatchId: null,
    lastBatchAt: null,
    watermark: null,
  };
  const viewOf = (metrics: unknown): Pick<BatchView, 'values' | 'keyed'> => {
    if (!options.view || metrics === undefined) return { values: {}, keyed: {} };
    try {
      return cleanView(options.view(metrics));
    } catch (error) {
      options.onViewError(error);
      return { values: {}, keyed: {} };
    }
  };
  return {
    batch(p, at) {
      const late = p.lateRecords ? (Object.values(p.lateRecords)[0] ?? 0) : null;
      const d = p.durationMs;
      const view: BatchView = {
        batchId: p.batchId,
        windowStart: p.windowStart.toISOString(),
        windowEnd: p.windowEnd.toISOString(),
        inputRecords: p.inputRecords,
        records: p.records,
        invalidRecords: p.invalidRecords,
        inputRecordsPerSecond: p.inputRecordsPerSecond,
        processedRecordsPerSecond: p.processedRecordsPerSecond,
        durationMs: {
          fold: d.fold,
          plan: d.plan,
          deadLetters: d.deadLetters,
          write: d.write,
          commit: d.commit,
          acknowledge: d.acknowledge,
          total: d.total,
        },
        replayed: p.replayed,
        lostRecords: p.lostRecords ?? 0,
        watermark: iso(p.watermark),
        late,
        ...viewOf(p.metrics),
        openWindows: (p.openWindows ?? []).map((w) => ({
          name: w.name,
          windowStart: w.windowStart.toISOString(),
          windowEnd: w.windowEnd.toISOString(),
          records: w.records,
        })),
      };
      batches.push(view);
      if (batches.length > options.historySize) batches.splice(0, batches.length - options.historySize);
      totals = {
        batches: totals.batches + 1,
        records: totals.records + p.inputRecords,
        invalid: totals.invalid + p.invalidRecords,
        late: late === null ? totals.late : (totals.late ?? 0) + late,
        lastBatchId: p.batchId,
        lastBatchAt: at.toISOString(),
        watermark: p.watermark !== undefined ? iso(p.watermark) : totals.watermark,
      };
      return view;
    },
    window(batchId, w) {
      const view: WindowView = {
        batchId,
        name: w.name,
        windowStart: w.windowStart.toISOString(),
        windowEnd: w.windowEnd.toISOString(),
        records: w.records,
        output: w.output,
      };
      windows.push(view);
      if (windows.length > WINDOW_HISTORY) windows.splice(0, windows.length - WINDOW_HISTORY);
      return view;
    },
    totals: () => totals,
    history(health, lag) {
      return {
        title: options.title,
        source: options.source,
        health,
        totals,
        batches: [...batches],
        windows: [...windows],
        lag: lag.map(({ lane, lag }) => ({ lane, lag })),
      };
    },
  };
}
