import pRetry from 'p-retry';
import { type Duration, toMilliseconds } from './duration';
import { describeValue, firstLine, TicketflowError, toTicketflowError } from './errors';

/** A durable step of a batch, in the order the pipeline runs them. */
export type DurableStep = 'begin' | 'dead-letters' | 'write' | 'commit';

/** One failed attempt of a durable step that is about to be retried. */
export interface RetryEvent {
  /** The step that failed. */
  readonly step: DurableStep;
  /** The batch concerned. */
  readonly batchId: number;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** How long the pipeline waits before the next attempt, in ms. */
  readonly delayMs: number;
  /** Time since the step's first attempt began, in ms. */
  readonly elapsedMs: number;
  /** Why it failed (its message names the step, the batch and the object). */
  readonly error: TicketflowError;
}

/** A durable step that succeeded after one or more failed attempts. */
export interface RecoveryEvent {
  /** The step. */
  readonly step: DurableStep;
  /** The batch concerned. */
  readonly batchId: number;
  /** Attempts made in all, the successful one included (at least 2). */
  readonly attempts: number;
  /** Time from the first attempt until the success, in ms. */
  readonly elapsedMs: number;
}

/**
 * The retry policy of a pipeline's durable steps: recording a batch in the checkpoint (`begin`), making
 * its dead letters durable, writing its output, and marking it committed. A failing step is attempted
 * again with exponential backoff, with the same batch id and content, until it succeeds or `for` has
 * passed since its first attempt; the pipeline then fails with the last error, and the next run replays
 * the batch. Storage clients may retry each request on their own first (the S3 store uses the AWS SDK's
 * retry strategy): this policy rides out longer outages, whatever the step.
 */
export interface RetryOptions {
  /**
   * How long a failing step is retried, from its first attempt. Default `0`: not retried (the pipeline
   * fails at the first failure).
   */
  readonly for?: Duration | 0;
  /** The wait before the second attempt; it doubles at each attempt. Default `'500ms'`. */
  readonly firstDelay?: Duration;
  /** The longest wait between two attempts. Default `'30s'`. */
  readonly maxDelay?: Duration;
  /** Called before each retry, for logs, health and metrics. Default: nothing. */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Called when a step succeeds after failed attempts. Default: nothing. */
  readonly onRecovered?: (event: RecoveryEvent) => void;
}

/**
 * Failures a retry cannot mend: a lost lease (`CHECKPOINT_CONFLICT`), a bad option, a bug, an abort, or
 * anything flagged `fatal`. Every other failure — storage errors of any kind, even those not flagged
 * retriable, since an operator may fix them (free space, remount, fix a permission) within the window —
 * is retried.
 */
export function isPermanent(error: TicketflowError): boolean {
  return (
    error.fatal ||
    error.code === 'CHECKPOINT_CONFLICT' ||
    error.code === 'INVALID_OPTION' ||
    error.code === 'INTERNAL' ||
    error.code === 'ABORTED'
  );
}

/** A resolved {@link RetryOptions}: runs one durable step under the policy. */
export type RetryPolicy = <T>(
  step: DurableStep,
  batchId: number,
  attempt: () => Promise<T>,
  signal: AbortSignal,
) => Promise<T>;

/**
 * Resolves {@link RetryOptions} into a {@link RetryPolicy} on `p-retry` (exponential backoff without
 * jitter, bounded by `maxRetryTime`). `attempt` must throw {@link TicketflowError}s (others are wrapped
 * as `INTERNAL`). Once `signal` is aborted (the pipeline is asked to stop) no further attempt is made
 * and the last error is thrown; the first attempt is always made. Throws `INVALID_OPTION` for a bad
 * duration.
 */
export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const forMs = options.for === undefined || options.for === 0 ? 0 : toMilliseconds(options.for, 'retry.for');
  const firstDelayMs = toMilliseconds(options.firstDelay ?? '500ms', 'retry.firstDelay');
  const maxDelayMs = toMilliseconds(options.maxDelay ?? '30s', 'retry.maxDelay');
  return async (step, batchId, attempt, signal) => {
    const began = performance.now();
    let last: TicketflowError | undefined;
    let attempts = 0;
    // Stopping interrupts a wait between attempts, never an attempt (whose success must count).
    const waiting = new AbortController();
    let inAttempt = false;
    const interrupt = () => {
      if (!inAttempt) waiting.abort();
    };
    const run = async () => {
      attempts += 1;
      inAttempt = true;
      try {
        return await attempt();
      } catch (error) {
        last = toTicketflowError(error, 'INTERNAL', `${step} of batch ${batchId} failed`);
        throw last;
      } finally {
        inAttempt = false;
      }
    };
    if (forMs === 0 || signal.aborted) return run();
    signal.addEventListener('abort', interrupt, { once: true });
    try {
      const result = await pRetry(run, {
        retries: Number.POSITIVE_INFINITY,
        factor: 2,
        minTimeout: firstDelayMs,
        maxTimeout: maxDelayMs,
        maxRetryTime: forMs,
        randomize: false,
        shouldRetry: ({ error, retriesConsumed }) => {
          const failure = error as TicketflowError;
          if (forMs === 0 || signal.aborted || isPermanent(failure)) return false;
          const elapsedMs = performance.now() - began;
          const delayMs = Math.min(firstDelayMs * 2 ** retriesConsumed, maxDelayMs, forMs - elapsedMs);
          options.onRetry?.({ step, batchId, attempt: attempts, delayMs, elapsedMs, error: failure });
          return true;
        },
        signal: waiting.signal,
      });
      if (attempts > 1) {
        options.onRecovered?.({ step, batchId, attempts, elapsedMs: performance.now() - began });
      }
      return result;
    } catch (error) {
      // Aborted while waiting: the step's own failure is the news, not the abort.
      if (last !== undefined) throw last;
      throw error instanceof TicketflowError
        ? error
        : new TicketflowError(
            'ABORTED',
            `${step} of batch ${batchId} stopped: ${firstLine(describeValue(error))}`,
          );
    } finally {
      signal.removeEventListener('abort', interrupt);
    }
  };
}
