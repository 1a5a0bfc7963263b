import type { StateCodec, StateData } from '../aggregator';
import { toMilliseconds } from '../duration';
import { InvalidOptionError, TicketflowError } from '../errors';
import type { EventTimeOptions, EventTimeState, TumblingWindow } from '../event-time';
import type { PartialEventTime } from '../partial';
import { stateCodecOf } from '../state-codec';

/** The resolved settings of {@link EventTimeOptions}. */
export interface EventTimeSettings<T> {
  readonly timestamp: (record: T) => number;
  // biome-ignore lint/suspicious/noExplicitAny: see EventTimeOptions.windows
  readonly windows: readonly TumblingWindow<T, any, any>[];
  readonly allowedLateness: number;
  readonly idleTimeout: number;
}

/** Checks and resolves {@link EventTimeOptions}; throws `InvalidOptionError` naming the bad option. */
export function eventTimeSettings<T>(options: EventTimeOptions<T>): EventTimeSettings<T> {
  if (typeof options.timestamp !== 'function')
    throw new InvalidOptionError('eventTime.timestamp must be a function of a record');
  if (!Array.isArray(options.windows) || options.windows.length === 0)
    throw new InvalidOptionError('eventTime.windows must list at least one window');
  const names = new Set<string>();
  for (const window of options.windows) {
    if (names.has(window.name))
      throw new InvalidOptionError(`two event-time windows are named "${window.name}"`);
    names.add(window.name);
  }
  const lateness = options.allowedLateness ?? '10m';
  return {
    timestamp: options.timestamp,
    windows: options.windows,
    allowedLateness: lateness === 0 ? 0 : toMilliseconds(lateness, 'allowedLateness'),
    idleTimeout: toMilliseconds(options.idleTimeout ?? '1m', 'idleTimeout'),
  };
}

/** A lane partial folded on a worker thread, as data: see {@link EventTimeWindows.exportFolded}. */
export interface FoldedEventTime {
  readonly max1: number;
  readonly max2: number;
  readonly late: readonly number[];
  readonly panes: ReadonlyArray<ReadonlyArray<readonly [number, number, StateData]>>;
}

/** An open window's accumulator and how many records it holds. */
interface OpenWindow {
  acc: unknown;
  records: number;
}

/**
 * What one lane contributed to one micro-batch: folded on the hot path, merged into the open windows
 * in lane-name order when the batch closes, so the result does not depend on how lanes interleaved.
 */
export interface LanePartial {
  /** The largest and second-largest event times of the lane in this batch (`-Infinity` when none). */
  max1: number;
  max2: number;
  /** When the lane last delivered a record (processing time, ms); `-Infinity` when it did not. */
  seenAt: number;
  /** Per window, records too late for it. */
  readonly late: number[];
  /** Per window, the windows this batch touched, by start. */
  readonly open: Map<number, OpenWindow>[];
  /** Merge mode: per source lane named by the partials, its two largest event times. */
  sources?: Map<string, [number, number]>;
}

/** A window made final by a batch: its accumulator, to be read with its metrics' `result`. */
export interface FinalWindowState {
  readonly window: TumblingWindow<unknown, unknown, unknown>;
  readonly start: number;
  readonly records: number;
  readonly acc: unknown;
}

/** What closing a batch decided. */
export interface EventTimeClose {
  /** The watermark after the batch; `null` before any record. */
  readonly watermark: number | null;
  /** Per window name, the batch's late records. */
  readonly late: Readonly<Record<string, number>>;
  /** Windows made final, in the order of the windows' declaration, then by start. */
  readonly finalized: readonly FinalWindowState[];
  /** The state to save with the batch. */
  readonly state: EventTimeState;
}

interface LaneProgress {
  max1: number;
  max2: number;
  seenAt: number;
}

const NONE = Number.NEGATIVE_INFINITY;

function codecOf(window: TumblingWindow<unknown, unknown, unknown>): StateCodec<unknown> {
  return stateCodecOf(window.metrics, `the metrics of window "${window.name}"`);
}

/**
 * The event-time side of the engine: assigns records to tumbling windows, tracks each lane's progress
 * and the watermark, and finalizes windows batch by batch. Its whole state is saved with every batch
 * plan ({@link EventTimeState}) and restored from the last committed one.
 */
export class EventTimeWindows<T> {
  readonly #settings: EventTimeSettings<T>;
  readonly #windows: readonly TumblingWindow<unknown, unknown, unknown>[];
  readonly #codecs: readonly StateCodec<unknown>[];
  readonly #sizes: Float64Array;
  readonly #open: Map<number, OpenWindow>[];
  /**
   * Per window, the window whose records it takes whole: itself, or the finest window with the same
   * metrics whose size divides its own (an hour within a day). Such a coarser window is not folded
   * record by record: each batch merges the finer window's contributions into it (panes), so a record
   * is folded once however many nested windows share its metrics.
   */
  readonly #pane: Int32Array;
  /** Per folded window, the coarser windows fed by its contributions. */
  readonly #coarser: number[][];
  /**
   * The window folded record by record whose metrics are the batch's own aggregator, or -1: a record
   * folded into it need not be folded into the batch too (see {@link EventTimeWindows.batchShares}).
   */
  readonly #batchPane: number;
  readonly #lanes = new Map<string, LaneProgress>();
  #watermark: number | null = null;

  /**
   * @param batchAggregator - the pipeline's batch aggregator: a window folded with that very aggregator
   *   holds the batch's records too, so that each record is folded once.
   */
  readonly #mode: 'final' | 'partial' | 'merge';

  /**
   * @param mode - `'final'`: windows made final here; `'partial'`: each batch's contributions are
   *   handed on ({@link EventTimeWindows.closePartial}) and nothing is kept; `'merge'`: contributions of
   *   partial processors are merged ({@link EventTimeWindows.addContribution}), windows made final here
   */
  constructor(
    settings: EventTimeSettings<T>,
    saved: EventTimeState | undefined,
    now: number,
    batchAggregator?: unknown,
    mode: 'final' | 'partial' | 'merge' = 'final',
  ) {
    this.#mode = mode;
    this.#settings = settings;
    const windows = settings.windows as readonly TumblingWindow<unknown, unknown, unknown>[];
    this.#windows = windows;
    this.#codecs = windows.map(codecOf);
    this.#sizes = Float64Array.from(windows, (w) => w.size);
    this.#open = windows.map(() => new Map());
    this.#pane = Int32Array.from(windows, (w, i) => {
      let pane = i;
      // A merger receives every window's contributions: no window is derived from another there.
      if (mode === 'merge') return pane;
      windows.forEach((other, j) => {
        const finer = other.size < (windows[pane] as TumblingWindow<unknown, unknown, unknown>).size;
        if (other.metrics === w.metrics && w.size % other.size === 0 && finer) pane = j;
      });
      return pane;
    });
    this.#coarser = windows.map((_, i) =>
      windows.map((__, k) => k).filter((k) => k !== i && this.#pane[k] === i),
    );
    this.#batchPane =
      mode === 'merge'
        ? -1
        : windows.findIndex((w, i) => this.#pane[i] === i && w.metrics === batchAggregator);
    if (saved !== undefined) this.#restore(saved, now);
  }

  /** The watermark after the last closed batch; `null` before any record. */
  get watermark(): number | null {
    return this.#watermark;
  }

  /** True while some window is open (holds records and is not final). */
  hasOpenWindows(): boolean {
    return this.#open.some((open) => open.size > 0);
  }

  /** A fresh contribution of one lane to one batch. */
  partial(): LanePartial {
    return {
      max1: NONE,
      max2: NONE,
      seenAt: NONE,
      late: this.#windows.map(() => 0),
      open: this.#windows.map(() => new Map()),
    };
  }

  /**
   * Folds one valid record into a lane's partial. `before` is the watermark after the previous batch:
   * windows that ended at or before it are final, and their records are late. Returns true when the
   * record went into a window folded with the batch's own aggregator: it is then in the batch through
   * {@link EventTimeWindows.batchShares} and must not be folded into the batch again.
   */
  add(partial: LanePartial, record: T, before: number | null): boolean {
    const t = this.#settings.timestamp(record);
    const windows = this.#windows;
    if (!Number.isFinite(t)) {
      for (let i = 0; i < windows.length; i++) (partial.late[i] as number) += 1;
      return false;
    }
    let shared = false;
    if (t > partial.max1) {
      partial.max2 = partial.max1;
      partial.max1 = t;
    } else if (t > partial.max2) partial.max2 = t;
    const pane = this.#pane;
    for (let i = 0; i < windows.length; i++) {
      if (pane[i] !== i) continue;
      const size = this.#sizes[i] as number;
      const start = Math.floor(t / size) * size;
      if (before !== null && start + size <= before) {
        (partial.late[i] as number) += 1;
        // Late for the finer window, perhaps not for a coarser one fed by it: folded into that one.
        for (const k of this.#coarser[i] as number[]) this.#fold(partial, k, t, record, before);
        continue;
      }
      this.#foldAt(partial, i, start, record);
      if (i === this.#batchPane) shared = true;
    }
    return shared;
  }

  /**
   * The accumulators of a lane's partial that hold records of the batch (folded with the batch's own
   * aggregator), in the order they were opened: the batch merges them before the partial is closed.
   */
  batchShares(partial: LanePartial): Iterable<unknown> {
    if (this.#batchPane < 0) return [];
    return [...(partial.open[this.#batchPane] as Map<number, OpenWindow>).values()].map((w) => w.acc);
  }

  /** Folds a record into window `k` of a partial directly, or counts it late for that window. */
  #fold(partial: LanePartial, k: number, t: number, record: T, before: number): void {
    const size = this.#sizes[k] as number;
    const start = Math.floor(t / size) * size;
    if (start + size <= before) (partial.late[k] as number) += 1;
    else this.#foldAt(partial, k, start, record);
  }

  #foldAt(partial: LanePartial, i: number, start: number, record: T): void {
    const open = partial.open[i] as Map<number, OpenWindow>;
    const metrics = (this.#windows[i] as TumblingWindow<unknown, unknown, unknown>).metrics;
    let w = open.get(start);
    if (w === undefined) {
      w = { acc: metrics.init(), records: 0 };
      open.set(start, w);
    }
    w.acc = metrics.add(w.acc, record);
    w.records += 1;
  }

  /**
   * How this instance derives windows: per window the window whose pane feeds it, and the window whose
   * pane holds batch records (-1: none). A worker thread's instance must agree with the main thread's.
   */
  layout(): { readonly panes: readonly number[]; readonly batchPane: number } {
    return { panes: Array.from(this.#pane), batchPane: this.#batchPane };
  }

  /**
   * A lane partial folded on a worker thread (with `before` null: no record judged late) as
   * structured-clonable data: its two largest event times, the records without a finite timestamp
   * (late for every window), and per window its panes `[start, records, state]`, by start.
   */
  exportFolded(partial: LanePartial): FoldedEventTime {
    return {
      max1: partial.max1,
      max2: partial.max2,
      late: [...partial.late],
      panes: this.#windows.map((_, i) => this.#encode(i, partial.open)),
    };
  }

  /**
   * Folds what a worker thread exported ({@link EventTimeWindows.exportFolded}) into a lane's partial,
   * judging lateness as {@link EventTimeWindows.add} does record by record: a pane whose window ended at
   * or before `before` is counted late, and goes into the coarser windows it feeds that are still open.
   * Returns the late panes of the batch's own window: their records belong to the batch alone, which
   * must merge them.
   */
  absorbFolded(partial: LanePartial, folded: FoldedEventTime, before: number | null): unknown[] {
    const top = [partial.max1, partial.max2, folded.max1, folded.max2].sort((a, b) => b - a);
    partial.max1 = top[0] as number;
    partial.max2 = top[1] as number;
    const toBatch: unknown[] = [];
    for (let i = 0; i < this.#windows.length; i++) {
      (partial.late[i] as number) += folded.late[i] as number;
      const panes = folded.panes[i] ?? [];
      if (panes.length === 0) continue;
      const codec = this.#codecs[i] as StateCodec<unknown>;
      const size = this.#sizes[i] as number;
      for (const [start, records, data] of panes) {
        const contribution: OpenWindow = { acc: codec.decode(data), records };
        if (before === null || start + size > before) {
          this.#absorb(partial.open, i, start, contribution, true);
          continue;
        }
        (partial.late[i] as number) += records;
        for (const k of this.#coarser[i] as number[]) {
          const coarse = this.#sizes[k] as number;
          const at = Math.floor(start / coarse) * coarse;
          if (at + coarse <= before) (partial.late[k] as number) += records;
          else this.#absorb(partial.open, k, at, contribution, false);
        }
        if (i === this.#batchPane) toBatch.push(contribution.acc);
      }
    }
    return toBatch;
  }

  /**
   * Merge mode: folds the event-time part of one partial aggregate into a lane's partial. Each window's
   * contribution is merged into its window, or counted late (by its records) when that window ended
   * at or before `before`; the source lanes' event times feed the watermark.
   *
   * @throws TicketflowError `INVALID_STATE` when the partial names a window this pipeline does not
   *   declare, or was encoded by other metrics.
   */
  addContribution(
    partial: LanePartial,
    contribution: PartialEventTime | undefined,
    before: number | null,
  ): void {
    // A partial without this merge's windows would leave them short, yet written as final.
    const missing = this.#windows
      .filter((w) => contribution?.windows[w.name] === undefined)
      .map((w) => w.name);
    if (missing.length > 0) {
      throw new TicketflowError(
        'INVALID_STATE',
        `a partial aggregate has no contribution to window${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')}: run the partial processors with the same event-time windows (rollups) as the merger`,
      );
    }
    if (contribution === undefined) return;
    const sources = partial.sources ?? new Map<string, [number, number]>();
    partial.sources = sources;
    for (const [lane, [max1, max2]] of Object.entries(contribution.lanes)) {
      const top = sources.get(lane) ?? [NONE, NONE];
      const all = [top[0], top[1], max1 ?? NONE, max2 ?? NONE].sort((a, b) => b - a);
      sources.set(lane, [all[0] as number, all[1] as number]);
    }
    this.#windows.forEach((w, i) => {
      (partial.late[i] as number) += contribution.late?.[w.name] ?? 0;
    });
    for (const [name, { codec: id, contributions }] of Object.entries(contribution.windows)) {
      const i = this.#windows.findIndex((w) => w.name === name);
      const window = this.#windows[i];
      const codec = this.#codecs[i];
      if (window === undefined || codec === undefined) {
        throw new TicketflowError(
          'INVALID_STATE',
          `a partial aggregate has window "${name}", which this merge does not declare (${this.#windows.map((w) => w.name).join(', ')}): run the partial processors and the merger with the same rollups`,
        );
      }
      if (id !== codec.id) {
        throw new TicketflowError(
          'INVALID_STATE',
          `a partial aggregate's window "${name}" was made by other metrics (${id}, here ${codec.id}): run the partial processors and the merger at the same version`,
        );
      }
      const open = partial.open[i] as Map<number, OpenWindow>;
      for (const [start, records, data] of contributions) {
        if (before !== null && start + window.size <= before) {
          (partial.late[i] as number) += records;
          continue;
        }
        const acc = codec.decode(data);
        const current = open.get(start);
        if (current === undefined) open.set(start, { acc, records });
        else {
          current.acc = window.metrics.merge(current.acc, acc);
          current.records += records;
        }
      }
    }
  }

  /**
   * Partial mode: the event-time part of a batch's partial aggregate, from its lanes' partials (in
   * lane-name order): each window's contributions merged over lanes (coarser windows derived from the
   * finer one they share metrics with), and each lane's two largest event times. Keeps nothing.
   */
  closePartial(partials: ReadonlyArray<readonly [string, LanePartial]>): PartialEventTime {
    const lanes: Record<string, readonly [number | null, number | null]> = {};
    const merged = this.#windows.map(() => new Map<number, OpenWindow>());
    const late = this.#windows.map(() => 0);
    for (const [lane, p] of partials) {
      if (p.max1 !== NONE) lanes[lane] = [p.max1, p.max2 === NONE ? null : p.max2];
      p.late.forEach((n, i) => {
        late[i] = (late[i] as number) + n;
      });
      this.#windows.forEach((_, i) => {
        for (const [start, contribution] of p.open[i] as Map<number, OpenWindow>)
          this.#spread(merged, i, start, contribution);
      });
    }
    const windows: Record<
      string,
      { codec: string; contributions: (readonly [number, number, StateData])[] }
    > = {};
    this.#windows.forEach((window, i) => {
      windows[window.name] = {
        codec: (this.#codecs[i] as StateCodec<unknown>).id,
        contributions: this.#encode(i, merged),
      };
    });
    // Records without a finite event time are late for every window: the merger counts them.
    const lateBy = Object.fromEntries(this.#windows.map((w, i) => [w.name, late[i] as number]));
    return late.some((n) => n > 0) ? { late: lateBy, lanes, windows } : { lanes, windows };
  }

  /**
   * Closes a batch: merges its lanes' partials (given in lane-name order) into the open windows, moves
   * the watermark (or takes the `recorded` one of a replayed batch), and finalizes the windows it
   * passed, or every open window at the end of the input.
   */
  close(
    partials: ReadonlyArray<readonly [string, LanePartial]>,
    now: number,
    options: { readonly recorded?: number | null; readonly endOfInput: boolean },
  ): EventTimeClose {
    const windows = this.#windows;
    const late: Record<string, number> = {};
    for (const w of windows) late[w.name] = 0;
    const progressOf: Array<readonly [string, { max1: number; max2: number; seenAt: number }]> =
      this.#mode === 'merge'
        ? partials.flatMap(([, p]) =>
            [...(p.sources ?? [])].map(
              ([lane, [max1, max2]]) => [lane, { max1, max2, seenAt: p.seenAt }] as const,
            ),
          )
        : partials.map(([lane, p]) => [lane, p] as const);
    for (const [lane, p] of progressOf) {
      const progress = this.#lanes.get(lane) ?? { max1: NONE, max2: NONE, seenAt: NONE };
      // The two largest of both multisets: one far-future record alone cannot move the watermark.
      const top = [progress.max1, progress.max2, p.max1, p.max2].sort((a, b) => b - a);
      progress.max1 = top[0] as number;
      progress.max2 = top[1] as number;
      if (p.seenAt > progress.seenAt) progress.seenAt = p.seenAt;
      this.#lanes.set(lane, progress);
    }
    for (const [, p] of partials) {
      for (let i = 0; i < windows.length; i++) {
        const w = windows[i] as TumblingWindow<unknown, unknown, unknown>;
        late[w.name] = (late[w.name] as number) + (p.late[i] as number);
        for (const [start, contribution] of p.open[i] as Map<number, OpenWindow>)
          this.#spread(this.#open, i, start, contribution);
      }
    }
    const active = new Set(progressOf.filter(([, p]) => p.seenAt !== NONE).map(([lane]) => lane));
    const watermark = options.recorded !== undefined ? options.recorded : this.#advance(now, active);
    this.#watermark = watermark;
    const finalized: FinalWindowState[] = [];
    for (let i = 0; i < windows.length; i++) {
      const window = windows[i] as TumblingWindow<unknown, unknown, unknown>;
      const open = this.#open[i] as Map<number, OpenWindow>;
      const starts = [...open.keys()].sort((a, b) => a - b);
      for (const start of starts) {
        if (!options.endOfInput && (watermark === null || start + window.size > watermark)) break;
        const w = open.get(start) as OpenWindow;
        open.delete(start);
        finalized.push({ window, start, records: w.records, acc: w.acc });
      }
    }
    return { watermark, late, finalized, state: this.#snapshot() };
  }

  /**
   * Merges a contribution of window `i` into `into`: into the coarser windows it feeds first (`merge`
   * never changes its second argument), then into window `i` itself, which may keep it.
   */
  #spread(into: Map<number, OpenWindow>[], i: number, start: number, contribution: OpenWindow): void {
    for (const k of this.#coarser[i] as number[]) {
      const size = this.#sizes[k] as number;
      this.#absorb(into, k, Math.floor(start / size) * size, contribution, false);
    }
    this.#absorb(into, i, start, contribution, true);
  }

  /** Merges a contribution into window `start` of `into[i]`; `keep` lets it become that window. */
  #absorb(
    into: Map<number, OpenWindow>[],
    i: number,
    start: number,
    contribution: OpenWindow,
    keep: boolean,
  ): void {
    const metrics = (this.#windows[i] as TumblingWindow<unknown, unknown, unknown>).metrics;
    const open = into[i] as Map<number, OpenWindow>;
    const current = open.get(start);
    if (current === undefined) {
      open.set(
        start,
        keep
          ? contribution
          : { acc: metrics.merge(metrics.init(), contribution.acc), records: contribution.records },
      );
    } else {
      current.acc = metrics.merge(current.acc, contribution.acc);
      current.records += contribution.records;
    }
  }

  /** The windows of `from[i]` as data, `[start, records, state]` by start. */
  #encode(i: number, from: Map<number, OpenWindow>[]): (readonly [number, number, StateData])[] {
    const codec = this.#codecs[i] as StateCodec<unknown>;
    const open = from[i] as Map<number, OpenWindow>;
    return [...open.keys()]
      .sort((a, b) => a - b)
      .map((start) => {
        const w = open.get(start) as OpenWindow;
        return [start, w.records, codec.encode(w.acc)] as const;
      });
  }

  /** The watermark after a batch: the minimum over active lanes, never moving back. */
  #advance(now: number, active: ReadonlySet<string>): number | null {
    let min = Number.POSITIVE_INFINITY;
    for (const [lane, progress] of this.#lanes) {
      // A lane that delivered records in this batch is not idle, however short the timeout.
      const idle = !active.has(lane) && now - progress.seenAt >= this.#settings.idleTimeout;
      if (progress.max2 === NONE || idle) continue;
      const candidate = progress.max2 - this.#settings.allowedLateness;
      if (candidate < min) min = candidate;
    }
    if (min === Number.POSITIVE_INFINITY) return this.#watermark;
    return this.#watermark === null || min > this.#watermark ? min : this.#watermark;
  }

  #snapshot(): EventTimeState {
    const lanes: Record<string, readonly [number | null, number | null]> = {};
    for (const name of [...this.#lanes.keys()].sort()) {
      const p = this.#lanes.get(name) as LaneProgress;
      lanes[name] = [p.max1 === NONE ? null : p.max1, p.max2 === NONE ? null : p.max2];
    }
    const windows: Record<
      string,
      { codec: string; size: number; open: (readonly [number, number, StateData])[] }
    > = {};
    this.#windows.forEach((window, i) => {
      windows[window.name] = {
        codec: (this.#codecs[i] as StateCodec<unknown>).id,
        size: window.size,
        open: this.#encode(i, this.#open),
      };
    });
    return { watermark: this.#watermark, lanes, windows };
  }

  #restore(saved: EventTimeState, now: number): void {
    // Windows added or removed since the state was saved would be written incomplete, or never.
    const describe = (entries: Array<[string, number | undefined]>) =>
      entries
        .map(([name, size]) => (size === undefined ? name : `${name} (${formatSpan(size)})`))
        .join(', ') || 'none';
    const was = Object.entries(saved.windows ?? {}).map(
      ([name, w]) => [name, w.size] as [string, number | undefined],
    );
    const current = this.#windows.map((w) => [w.name, w.size] as [string, number | undefined]);
    const same =
      was.length === current.length &&
      was.every(([name, size]) => current.some(([n, s]) => n === name && (size === undefined || size === s)));
    if (!same) {
      throw new TicketflowError(
        'INVALID_STATE',
        `the event-time windows changed since the checkpoint saved them (saved: ${describe(was)}; now: ${describe(current)}): windows added now would miss the records already counted, and windows removed would never be written; run with the saved windows, or start a new output location`,
      );
    }
    this.#watermark = saved.watermark ?? null;
    for (const [lane, [max1, max2]] of Object.entries(saved.lanes ?? {})) {
      this.#lanes.set(lane, { max1: max1 ?? NONE, max2: max2 ?? NONE, seenAt: now });
    }
    this.#windows.forEach((window, i) => {
      const entry = saved.windows?.[window.name];
      if (entry === undefined) return;
      const codec = this.#codecs[i] as StateCodec<unknown>;
      if (entry.codec !== codec.id) {
        throw new TicketflowError(
          'INVALID_STATE',
          `the metrics of window "${window.name}" changed since the checkpoint saved its open windows (saved as ${entry.codec}, now ${codec.id}): finish with the earlier version, or start a new output location`,
        );
      }
      const open = this.#open[i] as Map<number, OpenWindow>;
      for (const [start, records, data] of entry.open) open.set(start, { acc: codec.decode(data), records });
    });
  }
}

/** A window size for messages: `1h`, `24h`, `15m`, `90s`, or ms. */
function formatSpan(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
