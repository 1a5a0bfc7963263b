import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { StateData } from '../aggregator';
import type { DeadLetter } from '../dead-letter';
import { describeValue, firstLine, InvalidOptionError, TicketflowError } from '../errors';
import { Rejection } from '../rejection';
import type { DataGap, RecordChunk } from '../source';
import {
  FOLD_WORKER,
  type FoldWorkerData,
  type FromWorker,
  type ToWorker,
  type WorkerOptions,
} from '../workers';
import type { FoldedEventTime } from './event-time-windows';
import { packedLinesOf } from './packed-lines';
import type { RecoveredEvent } from './recovery';

/** Where a run of records lies: records `start..end` of a chunk of one lane. */
interface RunPlace {
  readonly lane: string;
  /** The chunk's offsets; the run covers `offsets[start..end)`. */
  readonly offsets: ArrayLike<number>;
  readonly start: number;
  readonly end: number;
  /** True for records of the batch being replayed. */
  readonly replay: boolean;
  /** An accepted loss just before the run's first record. */
  readonly gap?: DataGap;
}

/** A run of records decoded and folded on a worker thread, merged in read order by the window operator. */
export interface FoldedRecords extends RunPlace {
  readonly kind: 'folded';
  /** The run's batch accumulator, encoded by the metrics' codec. */
  readonly state: StateData;
  /** Valid records folded; the others of the run were refused. */
  readonly valid: number;
  readonly eventTime?: FoldedEventTime;
  /** The worker's time on the run, in ms. */
  readonly foldMs: number;
}

/** What the parallel fold stage emits: folded runs, batch closes, and recovery's markers, in read order. */
export type ParallelEvent =
  | FoldedRecords
  | { readonly kind: 'close' }
  | { readonly kind: 'replay-complete' }
  | { readonly kind: 'replay-incomplete' };

/** What the worker threads must agree on with the main thread. */
export interface FoldLayout {
  readonly codec: string;
  readonly windows: ReadonlyArray<readonly [string, number, string]>;
  readonly panes: readonly number[];
  readonly batchPane: number;
}

export interface ParallelFoldOptions<R> {
  readonly workers: WorkerOptions<R>;
  readonly layout: FoldLayout;
  readonly maxRecords: number;
  readonly span: number;
  readonly scheduler: SchedulerLike;
  readonly flushRequests?: Observable<unknown>;
  /** True while a batch is being replayed: new records then wait in the open batch, uncut. */
  readonly replaying: boolean;
  readonly onRejected?: (letter: DeadLetter<R>) => void;
  /** Told `true` when runs wait for a worker and the source should pause, `false` when it may resume. */
  readonly onPressure?: (paused: boolean) => void;
}

/**
 * A fold worker's heap limits by default: a young generation of 8 MB, where each run's strings and
 * tickets live and die, keeps the process's memory low at the same speed as Node's larger default.
 */
const DEFAULT_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 8 } as const;

/** Resolves and checks {@link WorkerOptions}; throws `InvalidOptionError` naming the bad option. */
export function workerSettings<R>(
  options: WorkerOptions<R>,
): Required<Omit<WorkerOptions<R>, 'options' | 'execArgv' | 'resourceLimits' | 'text'>> &
  Pick<WorkerOptions<R>, 'options' | 'execArgv' | 'resourceLimits' | 'text'> {
  const count = options.count ?? availableParallelism();
  if (!Number.isInteger(count) || count < 1)
    throw new InvalidOptionError(`workers.count must be a whole number of at least 1, got ${count}`);
  const maxRunRecords = options.maxRunRecords ?? 8192;
  if (!Number.isInteger(maxRunRecords) || maxRunRecords < 1)
    throw new InvalidOptionError(
      `workers.maxRunRecords must be a whole number of at least 1, got ${maxRunRecords}`,
    );
  const maxRunsInFlight = options.maxRunsInFlight ?? 2 * count;
  if (!Number.isInteger(maxRunsInFlight) || maxRunsInFlight < 1)
    throw new InvalidOptionError(
      `workers.maxRunsInFlight must be a whole number of at least 1, got ${maxRunsInFlight}`,
    );
  if (!(typeof options.module === 'string' || options.module instanceof URL) || String(options.module) === '')
    throw new InvalidOptionError('workers.module must be the path or file: URL of a fold module');
  try {
    structuredClone(options.options);
  } catch (error) {
    throw new InvalidOptionError(
      `workers.options must be data a thread can receive (no functions, no class instances): ${firstLineOf(error)}`,
    );
  }
  return { ...options, count, maxRunRecords, maxRunsInFlight };
}

/** The module as a `file:` URL, and the `tsx` loader a TypeScript module needs. */
function moduleOf(module: string | URL): { url: string; loader?: string } {
  const url =
    module instanceof URL ? module.href : /^[a-z]+:/i.test(module) ? module : pathToFileURL(module).href;
  if (!/\.[cm]?ts$/.test(url)) return { url };
  try {
    const path = url.startsWith('file:') ? fileURLToPath(url) : url;
    // The ES module entry of tsx's API, as its package.json exports it (import condition).
    const manifest = createRequire(path).resolve('tsx/package.json');
    const api = (JSON.parse(readFileSync(manifest, 'utf8')) as TsxManifest).exports['./esm/api'].import;
    const entry = typeof api === 'string' ? api : api.default;
    return { url, loader: new URL(entry, pathToFileURL(manifest)).href };
  } catch {
    throw new InvalidOptionError(
      `workers.module ${url} is TypeScript: install tsx beside it, or give the built JavaScript`,
    );
  }
}

/** The part of tsx's package.json that names its API. */
interface TsxManifest {
  readonly exports: { readonly './esm/api': { readonly import: string | { readonly default: string } } };
}

/** Starts a fold worker thread: imports the fold module, which serves the thread (see `foldWorker`). */
const BOOTSTRAP = `
const { workerData, parentPort } = require('node:worker_threads');
(async () => {
  if (workerData.loader) (await import(workerData.loader)).register();
  await import(workerData.module);
  if (globalThis[Symbol.for('ticketflow.fold-worker.serving')] !== true)
    parentPort.postMessage({ type: 'failed', message: workerData.module + ' does not call foldWorker when it is imported' });
})().catch((error) => {
  const message = String((error && error.message) || error).split('\\n')[0];
  parentPort.postMessage({ type: 'failed', message: 'cannot load ' + workerData.module + ': ' + message });
});
`;

interface Run<R> extends RunPlace {
  readonly seq: number;
  /** The raw records, or their bytes as text lines (`undefined` then). */
  readonly values: readonly R[] | undefined;
  message?: ToWorker;
  transfer?: ArrayBuffer[] | undefined;
  result?: Extract<FromWorker, { type: 'folded' }>;
}

type Entry<R> =
  | { readonly kind: 'run'; readonly run: Run<R> }
  | { readonly kind: 'marker'; readonly event?: ParallelEvent; readonly afterEmit?: () => void };

/**
 * The parallel fold stage: cuts the recovered runs at batch boundaries (it keeps the count of the open
 * batch, closing it on the span, a flush request or `maxRecords`, as the window operator then does) and
 * at `maxRunRecords`, sends each run to the least busy worker thread, and emits the folded runs with the
 * batch closes in the order the records were read. Refused records go to `onRejected` in that order too.
 */
export function parallelFold<R>(
  options: ParallelFoldOptions<R>,
): OperatorFunction<RecoveredEvent<R>, ParallelEvent> {
  const settings = workerSettings(options.workers);
  const { url, loader } = moduleOf(settings.module);
  return (source) =>
    new Observable<ParallelEvent>((subscriber) => {
      const queue: Entry<R>[] = [];
      const waiting: Run<R>[] = [];
      const bySeq = new Map<number, Run<R>>();
      const busy: number[] = [];
      let inFlight = 0;
      let seq = 0;
      let size = 0;
      let replaying = options.replaying;
      let sourceDone = false;
      let failed = false;
      let paused = false;

      const fail = (error: unknown): void => {
        if (failed) return;
        failed = true;
        teardown();
        subscriber.error(error);
      };

      const workerData: FoldWorkerData = {
        [FOLD_WORKER]: true,
        module: url,
        options: settings.options,
        ...(loader ? { loader } : {}),
      };
      let stopping = false;
      const ready: boolean[] = [];
      const workers: Worker[] = [];
      for (let w = 0; w < settings.count; w++) {
        const worker = new Worker(BOOTSTRAP, {
          eval: true,
          workerData,
          resourceLimits: settings.resourceLimits ?? DEFAULT_RESOURCE_LIMITS,
          ...(settings.execArgv ? { execArgv: [...settings.execArgv] } : {}),
        });
        busy.push(0);
        ready.push(false);
        worker.on('message', (message: FromWorker) => {
          if (failed) return;
          if (message.type === 'failed') {
            fail(new TicketflowError('INVALID_OPTION', `fold worker ${w + 1}: ${message.message}`));
          } else if (message.type === 'ready') {
            const mismatch = layoutMismatch(options.layout, message);
            if (mismatch !== undefined) {
              fail(new TicketflowError('INVALID_OPTION', `fold worker ${w + 1}: ${mismatch}`));
              return;
            }
            ready[w] = true;
            // A thread is sent runs once it listens: a message sent while it loads could be lost.
            dispatch();
          } else {
            const run = bySeq.get(message.seq);
            if (run === undefined || !ready[w]) return;
            bySeq.delete(message.seq);
            run.result = message;
            busy[w] = (busy[w] as number) - 1;
            inFlight -= 1;
            dispatch();
            drain();
          }
        });
        worker.on('error', (error) =>
          fail(
            new TicketflowError('INTERNAL', `fold worker ${w + 1} failed: ${firstLineOf(error)}`, {
              cause: error,
            }),
          ),
        );
        worker.on('exit', (code) => {
          if (!failed && !stopping)
            fail(
              new TicketflowError('INTERNAL', `fold worker ${w + 1} exited with code ${code} while folding`),
            );
        });
        workers.push(worker);
      }

      const pressure = (next: boolean): void => {
        if (next === paused) return;
        paused = next;
        options.onPressure?.(next);
      };

      const dispatch = (): void => {
        if (failed || stopping) return;
        while (inFlight < settings.maxRunsInFlight && waiting.length > 0) {
          let w = -1;
          for (let i = 0; i < busy.length; i++) {
            if (ready[i] && (w === -1 || (busy[i] as number) < (busy[w] as number))) w = i;
          }
          if (w === -1) break;
          const run = waiting.shift() as Run<R>;
          busy[w] = (busy[w] as number) + 1;
          inFlight += 1;
          bySeq.set(run.seq, run);
          try {
            (workers[w] as Worker).postMessage(run.message, run.transfer ?? []);
          } catch (error) {
            fail(error);
            return;
          }
          run.message = undefined;
          run.transfer = undefined;
        }
        updatePressure();
      };

      /**
       * Pauses the source while runs wait for a thread, or while results wait behind a slower run (so
       * that memory stays bounded while a run stalls); resumes it otherwise. Called whenever one of
       * these changes: after each dispatch and each drain.
       */
      const updatePressure = (): void => {
        if (failed || stopping) return;
        pressure(
          waiting.length > 0 ||
            inFlight >= settings.maxRunsInFlight ||
            queue.length > 4 * settings.maxRunsInFlight,
        );
      };

      const emitRun = (run: Run<R>): void => {
        const result = run.result as Extract<FromWorker, { type: 'folded' }>;
        if (options.onRejected) {
          for (const [index, reason, text] of result.rejected) {
            options.onRejected({
              value: (run.values !== undefined ? run.values[index] : text) as R,
              reason,
              lane: run.lane,
              offset: run.offsets[run.start + index] as number,
            });
          }
        }
        const folded: FoldedRecords = {
          kind: 'folded',
          lane: run.lane,
          offsets: run.offsets,
          start: run.start,
          end: run.end,
          replay: run.replay,
          ...(run.gap ? { gap: run.gap } : {}),
          state: result.state,
          valid: result.valid,
          ...(result.eventTime ? { eventTime: result.eventTime } : {}),
          foldMs: result.ms,
        };
        subscriber.next(folded);
      };

      const drain = (): void => {
        while (!failed && queue.length > 0) {
          const head = queue[0] as Entry<R>;
          if (head.kind === 'run' && head.run.result === undefined) return;
          queue.shift();
          try {
            if (head.kind === 'run') emitRun(head.run);
            else {
              if (head.event !== undefined) subscriber.next(head.event);
              head.afterEmit?.();
            }
          } catch (error) {
            fail(error);
            return;
          }
        }
        if (sourceDone && queue.length === 0 && !failed) {
          teardown();
          subscriber.complete();
          return;
        }
        updatePressure();
      };

      const add = (run: Omit<Run<R>, 'seq' | 'values' | 'message'>, chunk: RecordChunk<R>): void => {
        const offsets: number[] = new Array(run.end - run.start);
        for (let i = run.start; i < run.end; i++) offsets[i - run.start] = run.offsets[i] as number;
        let refused: Array<readonly [number, string]> | undefined;
        if (chunk.rejected !== undefined) {
          for (const [i, reason] of chunk.rejected) {
            if (i < run.start || i >= run.end) continue;
            refused ??= [];
            refused.push([i - run.start, reason]);
          }
        }
        const packed = packedLinesOf(chunk);
        const entry: Run<R> = {
          ...run,
          seq: seq++,
          values: packed ? undefined : chunk.values.slice(run.start, run.end),
        };
        let lines: ToWorker['lines'];
        const text = settings.text;
        if (!packed && text !== undefined) {
          // Each record's bytes, one after the other in one buffer that moves to the worker.
          const parts: Uint8Array[] = [];
          const bounds = new Int32Array(2 * (run.end - run.start));
          let size = 0;
          for (let i = run.start; i < run.end; i++) {
            const k = i - run.start;
            const bytes = refused?.some(([j]) => j === k) ? undefined : text.bytes(chunk.values[i] as R);
            bounds[2 * k] = size;
            if (bytes instanceof Rejection) {
              refused ??= [];
              refused.push([k, bytes.reason]);
            } else if (bytes !== undefined) {
              parts.push(bytes);
              size += bytes.length;
            }
            bounds[2 * k + 1] = size;
          }
          const all = new Uint8Array(size);
          let at = 0;
          for (const part of parts) {
            all.set(part, at);
            at += part.length;
          }
          lines = { bytes: all, bounds, notUtf8Reason: text.notUtf8Reason };
          entry.transfer = [all.buffer as ArrayBuffer, bounds.buffer as ArrayBuffer];
        } else if (packed) {
          // The run's bytes, copied once into a buffer of their own that moves to the worker.
          const from = packed.bounds[2 * run.start] as number;
          const to = packed.bounds[2 * run.end - 1] as number;
          const bytes = new Uint8Array(to - from);
          bytes.set(packed.bytes.subarray(from, to));
          const bounds = packed.bounds.slice(2 * run.start, 2 * run.end);
          for (let i = 0; i < bounds.length; i++) bounds[i] = (bounds[i] as number) - from;
          lines = { bytes, bounds };
          entry.transfer = [bytes.buffer as ArrayBuffer, bounds.buffer as ArrayBuffer];
        }
        entry.message = {
          type: 'run',
          seq: entry.seq,
          lane: run.lane,
          ...(lines ? { lines } : { values: entry.values }),
          offsets,
          ...(refused ? { rejected: refused } : {}),
        };
        queue.push({ kind: 'run', run: entry });
        waiting.push(entry);
      };

      const close = (then?: unknown): void => {
        if (sourceDone) {
          // The input ended: its last batch closes at the end, as on one thread; the flush waits for it.
          queue.push({
            kind: 'marker',
            ...(typeof then === 'function' ? { afterEmit: then as () => void } : {}),
          });
          drain();
          return;
        }
        queue.push({
          kind: 'marker',
          event: { kind: 'close' },
          ...(typeof then === 'function' ? { afterEmit: then as () => void } : {}),
        });
        if (!replaying) size = 0;
        drain();
      };

      // Set once subscribed; the source may complete (and the stage tear down) while it subscribes.
      let timer: Subscription | undefined;
      let flushes: Subscription | undefined;
      // Flush requests are heard from the start: one made while the source subscribes is not lost.
      flushes = options.flushRequests?.subscribe((then) => close(then));
      const subscription = source.subscribe({
        next: (event) => {
          if (failed) return;
          try {
            receive(event);
          } catch (error) {
            fail(error);
          }
        },
        error: (error) => fail(error),
        complete: () => {
          sourceDone = true;
          // Nothing is read any more: the last batch closes at the end of the input, as on one thread.
          timer?.unsubscribe();
          drain();
        },
      });
      function receive(event: RecoveredEvent<R>): void {
        if (event.kind !== 'records') {
          if (event.kind === 'replay-complete') replaying = false;
          queue.push({ kind: 'marker', event });
          drain();
          return;
        }
        const { chunk, replay, gap } = event;
        let i = event.start;
        let first = true;
        // The window operator closes a full batch before new records (see its closeIfFull).
        if (!replay && !replaying && size >= options.maxRecords) size = 0;
        while (i < event.end) {
          // New records of the batch being replayed's time wait in the open batch, uncut; replayed
          // records are counted by their own recorded range.
          const room = replay || replaying ? Number.POSITIVE_INFINITY : options.maxRecords - size;
          const stop = Math.min(event.end, i + settings.maxRunRecords, i + room);
          add(
            {
              lane: chunk.lane,
              offsets: chunk.offsets,
              start: i,
              end: stop,
              replay,
              ...(first && gap ? { gap } : {}),
            },
            chunk,
          );
          first = false;
          // New records read while a replay is pending count in the open batch too, uncut.
          if (!replay) size += stop - i;
          if (!replay && !replaying && size >= options.maxRecords) size = 0;
          i = stop;
        }
        dispatch();
      }
      if (!subscriber.closed && !stopping && !sourceDone) {
        timer = options.scheduler.schedule(function tick() {
          close();
          this.schedule(undefined, options.span);
        }, options.span);
      }
      function teardown(): void {
        stopping = true;
        timer?.unsubscribe();
        flushes?.unsubscribe();
        for (const worker of workers) void worker.terminate();
        if (paused) pressure(false);
        // Flushes still waiting are answered: nothing more will be emitted.
        for (const entry of queue.splice(0)) if (entry.kind === 'marker') entry.afterEmit?.();
      }
      return () => {
        subscription.unsubscribe();
        teardown();
      };
    });
}

/** Why a worker's fold differs from the main thread's, or `undefined` when it agrees. */
function layoutMismatch(
  expected: FoldLayout,
  got: Extract<FromWorker, { type: 'ready' }>,
): string | undefined {
  if (got.codec !== expected.codec)
    return `its metrics (${got.codec}) differ from the pipeline's (${expected.codec}): build both from the same fold module`;
  const describe = (windows: FoldLayout['windows']) =>
    windows.map(([name, size, codec]) => `${name} ${size} ms ${codec}`).join(', ') || 'none';
  if (describe(got.windows) !== describe(expected.windows))
    return `its event-time windows (${describe(got.windows)}) differ from the pipeline's (${describe(expected.windows)}): build both from the same fold module`;
  if (got.panes.join() !== expected.panes.join() || got.batchPane !== expected.batchPane)
    return "its event-time windows share their metrics with each other or with the batch otherwise than the pipeline's: build both from the same fold module";
  return undefined;
}

function firstLineOf(error: unknown): string {
  return firstLine(describeValue(error instanceof Error ? error.message : error));
}
