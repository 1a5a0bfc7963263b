import { SingleBar } from 'cli-progress';

/**
 * Progress of long work (`generate --count N`, `process --input FILE`) on standard error, never on
 * standard output: a bar on a terminal; elsewhere (a log file, CI) one line every few seconds.
 *
 * @module
 */

/** How far the work has gone. */
export interface Done {
  readonly records: number;
  /** Bytes read, for work measured in bytes (a file). */
  readonly bytes?: number;
}

/** Reports the progress of one piece of work. */
export interface Progress {
  /** The totals so far. Cheap: call it as often as you like. */
  update(done: Done): void;
  /** Draws the last state (on a terminal) and stops. */
  stop(): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** What `total` counts: records, or bytes of a file. */
  readonly unit: 'records' | 'bytes';
  /** The whole work in `unit`s, when known (a percentage and an ETA are shown then). */
  readonly total?: number | undefined;
  /** No output at all (`--quiet`). Default `false`. */
  readonly quiet?: boolean;
  /** Where it is drawn. Default standard error. */
  readonly stream?: NodeJS.WritableStream & { readonly isTTY?: boolean };
  /** Time between two lines when the stream is not a terminal, in ms. Default 5000. */
  readonly intervalMs?: number;
  /** The clock, in ms. Default `performance.now`. */
  readonly now?: () => number;
}

const NONE: Progress = { update: () => {}, stop: () => {} };

/** `1234567` → `1.2 MB`. */
function size(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** `754` (s) → `12m34s`. */
function duration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * One progress line for a stream that is not a terminal, e.g.
 * `progress: 120000 records, 40000/s, 35% of 12.3 MB, ETA 6s`.
 */
export function progressLine(
  done: Done,
  options: { unit: 'records' | 'bytes'; total?: number | undefined; elapsedMs: number },
): string {
  const seconds = options.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(done.records / seconds) : 0;
  const parts = [`${done.records} records`, `${rate}/s`];
  const { total } = options;
  const value = options.unit === 'bytes' ? (done.bytes ?? 0) : done.records;
  if (total !== undefined && total > 0) {
    const share = Math.min(100, Math.floor((value / total) * 100));
    parts.push(options.unit === 'bytes' ? `${share}% of ${size(total)}` : `${share}% of ${total}`);
    if (value > 0 && seconds > 0) parts.push(`ETA ${duration(((total - value) * seconds) / value)}`);
  } else if (options.unit === 'bytes') {
    parts.push(`${size(value)} read`);
  }
  return `progress: ${parts.join(', ')}`;
}

/** A progress display on standard error: a bar on a terminal, a line every few seconds elsewhere. */
export function createProgress(options: ProgressOptions): Progress {
  if (options.quiet) return NONE;
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const started = now();
  let last: Done = { records: 0, bytes: 0 };
  const { unit, total } = options;
  const rate = () => {
    const seconds = (now() - started) / 1000;
    return seconds > 0 ? Math.round(last.records / seconds) : 0;
  };

  if (!stream.isTTY) {
    const timer = setInterval(() => {
      stream.write(`${progressLine(last, { unit, total, elapsedMs: now() - started })}\n`);
    }, options.intervalMs ?? 5000);
    timer.unref();
    return {
      update: (done) => {
        last = done;
      },
      stop: () => clearInterval(timer),
    };
  }

  const known = total !== undefined && total > 0;
  const counts = unit === 'bytes' ? '{records} records, {read} of {size}' : '{value}/{total} records';
  const bar = new SingleBar({
    stream: stream as NodeJS.WritableStream as NodeJS.WriteStream,
    format: known
      ? `{bar} {percentage}% | ${counts} | {rate}/s | ETA {eta_formatted}`
      : '{records} records | {read} read | {rate}/s',
    hideCursor: false,
    barsize: 30,
    etaBuffer: 50,
    fps: 5,
  });
  const payload = () => ({
    records: last.records,
    read: size(last.bytes ?? 0),
    size: size(total ?? 0),
    rate: rate(),
  });
  bar.start(known ? total : 1, 0, payload());
  const value = () => (unit === 'bytes' ? (last.bytes ?? 0) : last.records);
  return {
    update: (done) => {
      last = done;
      bar.update(known ? value() : 0, payload());
    },
    stop: () => {
      bar.update(known ? value() : 0, payload());
      bar.stop();
    },
  };
}
