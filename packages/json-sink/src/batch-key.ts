import { InvalidOptionError } from '@ticketflow/core';

/** Every layout of batch files, see {@link BatchLayout}. */
export const BATCH_LAYOUTS = ['flat', 'hive'] as const;

/**
 * How batch files are named under the output location:
 * - `'flat'`: `batch_00042.json`, all in one folder (the output contract's default);
 * - `'hive'`: `dt=2026-03-01/hour=10/batch_00042.json`, partitioned by the UTC date and hour of the
 *   batch's `window_start`, the form Athena, Hive and DuckDB read as partitions.
 */
export type BatchLayout = (typeof BATCH_LAYOUTS)[number];

/** Options of {@link batchKey}. */
export interface BatchKeyOptions {
  /** Default `'flat'`. */
  readonly layout?: BatchLayout;
  /** Adds `.gz` to the name. Default `false`. */
  readonly gzip?: boolean;
}

/**
 * The file name of a batch: `batch_` then the id zero-padded to 5 digits (wider past 99999), then `.json`.
 *
 * @example
 * ```ts
 * batchFileName(42) // 'batch_00042.json'
 * ```
 */
export function batchFileName(batchId: number, extension = '.json'): string {
  return `batch_${String(batchId).padStart(5, '0')}${extension}`;
}

/**
 * The key of a batch's file under the output location, for a layout.
 *
 * @example
 * ```ts
 * batchKey(42, new Date('2026-03-01T10:00:30Z'), { layout: 'hive', gzip: true })
 * // 'dt=2026-03-01/hour=10/batch_00042.json.gz'
 * ```
 */
export function batchKey(batchId: number, windowStart: Date, options: BatchKeyOptions = {}): string {
  const layout = options.layout ?? 'flat';
  const name = batchFileName(batchId, options.gzip ? '.json.gz' : '.json');
  switch (layout) {
    case 'flat':
      return name;
    case 'hive': {
      const iso = windowStart.toISOString();
      return `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${name}`;
    }
    default:
      throw new InvalidOptionError(
        `layout must be one of ${BATCH_LAYOUTS.join(', ')}, got ${JSON.stringify(layout as string)}`,
      );
  }
}

/** The bounds and name of an event-time window, as {@link windowKey} needs them. */
export interface WindowKeyInput {
  /** The window's name, such as `'hourly'`. */
  readonly name: string;
  /** Its start (inclusive), UTC. */
  readonly windowStart: Date;
  /** Its end (exclusive), UTC. */
  readonly windowEnd: Date;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The key of an event-time window's file under the output location, Hive-partitioned by the UTC start
 * of the window: `<name>/dt=YYYY-MM-DD/metrics.json` for windows of a day or longer,
 * `<name>/dt=YYYY-MM-DD/hour=HH/metrics.json` for an hour or longer, and
 * `<name>/dt=YYYY-MM-DD/hour=HH/minute=MM/metrics.json` below that; `.json.gz` with `gzip`.
 *
 * @example
 * ```ts
 * windowKey({ name: 'hourly', windowStart: new Date('2026-03-01T10:00:00Z'), windowEnd: new Date('2026-03-01T11:00:00Z') })
 * // 'hourly/dt=2026-03-01/hour=10/metrics.json'
 * ```
 */
export function windowKey(window: WindowKeyInput, options: { readonly gzip?: boolean } = {}): string {
  const iso = window.windowStart.toISOString();
  const size = window.windowEnd.getTime() - window.windowStart.getTime();
  const file = options.gzip ? 'metrics.json.gz' : 'metrics.json';
  const dt = `${window.name}/dt=${iso.slice(0, 10)}/`;
  if (size >= DAY_MS) return `${dt}${file}`;
  if (size >= HOUR_MS) return `${dt}hour=${iso.slice(11, 13)}/${file}`;
  return `${dt}hour=${iso.slice(11, 13)}/minute=${iso.slice(14, 16)}/${file}`;
}
