/**
 * The process's stop request, shared by every command: the first SIGINT or SIGTERM aborts
 * {@link Shutdown.signal} (the command then finishes its work gracefully and exits 0), a second one
 * exits at once with code 130.
 *
 * It is installed first thing at start-up, before any other module loads, so that a signal at any moment
 * of start-up is a graceful stop rather than the default exit 143. This module imports nothing, so that
 * loading it costs nothing.
 *
 * @module
 */

/** The process-wide stop request. */
export interface Shutdown {
  /** Aborted by the first SIGINT or SIGTERM; its `reason` is the signal's name. */
  readonly signal: AbortSignal;
  /** The signal received first, once one was. */
  readonly received: NodeJS.Signals | undefined;
  /**
   * Called on a second signal, before the process exits with code 130; commands set it to log a line.
   * Default: nothing.
   */
  onSecondSignal: (signal: NodeJS.Signals) => void;
}

const KEY = Symbol.for('ticketflow.shutdown');
/** Where `early-signals.mjs` (loaded before the program) keeps the signals it recorded. */
const EARLY_KEY = Symbol.for('ticketflow.early-signals');
/** Exit code of a second signal: the work in progress is abandoned. */
const EXIT_ABANDONED = 130;
/**
 * A repeat of the first signal within this span is the same request delivered twice, not a second one:
 * Ctrl-C under `pnpm start` reaches the program from the terminal (to the whole process group) and again
 * from pnpm, which forwards the SIGINT it received to its child.
 */
const SAME_REQUEST_MS = 1000;

/** Installs the SIGINT and SIGTERM handlers once, and returns the process's {@link Shutdown}. */
export function installShutdown(): Shutdown {
  const holder = globalThis as { [KEY]?: Shutdown };
  const existing = holder[KEY];
  if (existing) return existing;
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  let receivedAt = 0;
  const state: Shutdown = {
    get signal() {
      return controller.signal;
    },
    get received() {
      return received;
    },
    onSecondSignal: () => {},
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (received !== undefined) {
      if (signal === received && performance.now() - receivedAt < SAME_REQUEST_MS) return;
      state.onSecondSignal(signal);
      process.exit(EXIT_ABANDONED);
    }
    received = signal;
    receivedAt = performance.now();
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  holder[KEY] = state;
  // Signals that arrived while the program was loading count as if they arrived now.
  const early = (globalThis as { [EARLY_KEY]?: { release(): NodeJS.Signals[] } })[EARLY_KEY];
  for (const signal of early?.release() ?? []) onSignal(signal);
  return state;
}
