/** Options of {@link dedupeEvents}. */
export interface DedupeOptions<E> {
  /**
   * What makes two events "the same": events with equal keys are collapsed. Default: the event's
   * `level` and its `message` with volatile parts removed (see {@link normalizeClientMessage}).
   */
  readonly key?: (event: E) => string;
  /**
   * Builds the summary event of `repeats` suppressed copies of `event` over the last `intervalMs` (less
   * when {@link DedupedEmitter.flush} ends an interval early).
   * Default: the event with ` (repeated N times in the last S s)` appended to its `message`.
   */
  readonly summarize?: (event: E, repeats: number, intervalMs: number) => E;
  /** The length of one interval, in ms. Default 10 000. */
  readonly intervalMs?: number;
  /**
   * Events passed through as they come, never collapsed. Default: those whose `level` is `debug` or
   * `info` (a rebalance's "assigned …" each time it happens); warnings, errors and events without a
   * level are collapsed.
   */
  readonly passThrough?: (event: E) => boolean;
}

/** An event sink that collapses repeats, as returned by {@link dedupeEvents}. */
export interface DedupedEmitter<E> {
  /** Emits the event now if it is the first of its kind in this interval, else counts it. */
  (event: E): void;
  /** Emits the summaries of every count held, now, and forgets them (call it before exiting). */
  flush(): void;
}

/** The shape the default key and summary read: a level and a one-line message. */
interface LeveledMessage {
  readonly level?: string;
  readonly message: string;
}

/**
 * Removes the parts of a librdkafka message that change between otherwise identical errors: the
 * `(after 12ms in state CONNECT, 3 identical error(s) suppressed)` tail and the `[thrd:…]:` prefix.
 *
 * @example
 * ```ts
 * normalizeClientMessage('127.0.0.1:1/bootstrap: Connect failed (after 0ms in state CONNECT)');
 * // '127.0.0.1:1/bootstrap: Connect failed'
 * ```
 */
export function normalizeClientMessage(message: string): string {
  return message
    .replace(/^\[thrd:[^\]]*\]:\s*/, '')
    .replace(/\s*\(after \d+ms in state [A-Z_]+(?:, \d+ identical error\(s\) suppressed)?\)/g, '')
    .replace(/,?\s*\d+ identical error\(s\) suppressed/g, '')
    .trim();
}

const defaultKey = (event: unknown): string => {
  const e = event as LeveledMessage;
  return `${e.level ?? ''}\u0000${normalizeClientMessage(e.message)}`;
};

const defaultPassThrough = (event: unknown): boolean => {
  const level = (event as LeveledMessage).level;
  return level === 'debug' || level === 'info';
};

const defaultSummary = <E>(event: E, repeats: number, intervalMs: number): E => {
  const e = event as LeveledMessage;
  return {
    ...e,
    message: `${e.message} (repeated ${repeats} ${repeats === 1 ? 'time' : 'times'} in the last ${Math.round(intervalMs / 1000)} s)`,
  } as E;
};

/**
 * Wraps an event sink so that it prints one line per distinct warning per interval, never hundreds of
 * identical lines (info and debug events pass through, see `passThrough`): the first event of a kind passes at once; later ones in the same interval are only
 * counted, and at the end of the interval one summary line carries the count (`… (repeated 57 times
 * in the last 10 s)`). A kind that stays quiet for a whole interval is forgotten, so its next
 * occurrence passes at once again. The interval timer does not keep the process alive; counts still
 * held when the process is about to exit (`beforeExit`) are printed then.
 *
 * Events are `{ level, message }` objects by default (a {@link KafkaSourceEvent}); give `key` and
 * `summarize` for other shapes, or use {@link dedupeMessages} for plain strings.
 *
 * @example
 * ```ts
 * const emit = dedupeEvents(options.onEvent ?? (() => {}));
 * emit({ level: 'warn', message: 'kafka: all broker connections are down' });
 * ```
 */
export function dedupeEvents<E>(emit: (event: E) => void, options: DedupeOptions<E> = {}): DedupedEmitter<E> {
  const key = options.key ?? defaultKey;
  const summarize = options.summarize ?? defaultSummary;
  const intervalMs = options.intervalMs ?? 10_000;
  const passThrough = options.passThrough ?? defaultPassThrough;
  const seen = new Map<string, { event: E; repeats: number }>();
  let timer: ReturnType<typeof setInterval> | undefined;
  /** When the current interval began, in ms since the epoch. */
  let began = 0;

  const tick = () => {
    began = Date.now();
    for (const [k, entry] of seen) {
      if (entry.repeats === 0) {
        seen.delete(k);
        continue;
      }
      const repeats = entry.repeats;
      entry.repeats = 0;
      emit(summarize(entry.event, repeats, intervalMs));
    }
    if (seen.size === 0) stopTimer();
  };
  // The timer does not hold the process: counts still held when it is about to exit are printed then.
  const onBeforeExit = () => deduped.flush();
  const stopTimer = () => {
    if (timer === undefined) return;
    clearInterval(timer);
    timer = undefined;
    process.removeListener('beforeExit', onBeforeExit);
  };

  const deduped = ((event: E) => {
    if (passThrough(event)) {
      emit(event);
      return;
    }
    const k = key(event);
    const entry = seen.get(k);
    if (entry !== undefined) {
      entry.repeats += 1;
      entry.event = event;
      return;
    }
    seen.set(k, { event, repeats: 0 });
    if (timer === undefined) {
      began = Date.now();
      timer = setInterval(tick, intervalMs);
      timer.unref?.();
      process.once('beforeExit', onBeforeExit);
    }
    emit(event);
  }) as DedupedEmitter<E>;
  deduped.flush = () => {
    const elapsed = Math.min(intervalMs, Math.max(1_000, Date.now() - began));
    for (const entry of seen.values()) {
      if (entry.repeats > 0) emit(summarize(entry.event, entry.repeats, elapsed));
    }
    seen.clear();
    stopTimer();
  };
  return deduped;
}

/**
 * {@link dedupeEvents} for plain one-line messages, such as a producer's `onWarning`.
 *
 * @example
 * ```ts
 * const warn = dedupeMessages((m) => logger.warn(m));
 * ```
 */
export function dedupeMessages(
  emit: (message: string) => void,
  options: { readonly intervalMs?: number } = {},
): DedupedEmitter<string> {
  const wrapped = dedupeEvents<LeveledMessage>((e) => emit(e.message), options);
  const deduped = ((message: string) => wrapped({ message })) as DedupedEmitter<string>;
  deduped.flush = () => wrapped.flush();
  return deduped;
}
