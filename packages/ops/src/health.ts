/**
 * A pipeline's health, as `/healthz` reports it.
 *
 * The processor is healthy (HTTP 200) while it runs, its source reaches its brokers and its batches are
 * written. It is unhealthy (HTTP 503) when any of these holds:
 *
 * - it is still starting: the pipeline has not begun reading, or a Kafka source has never connected;
 * - the source reports it lost the brokers (`KafkaSource.connected()` is false);
 * - the last attempt to write a batch or to reach the output storage failed and none has succeeded since;
 * - records were read but no batch was committed for `stallAfterMs` (default: 3 windows, at least 60 s);
 * - it is stopping (after SIGTERM) or the pipeline failed.
 */

/** The overall state `/healthz` reports. */
export type HealthStatus = 'starting' | 'ok' | 'failing' | 'stopping';

/** The body of `/healthz`. */
export interface HealthReport {
  /** `ok` answers HTTP 200; every other status answers 503. */
  readonly status: HealthStatus;
  /** True when `status` is `ok`. */
  readonly healthy: boolean;
  /** Why the processor is not healthy, one short sentence each; empty when healthy. */
  readonly reasons: readonly string[];
  /** The source's name and, for a Kafka source, whether it reaches the brokers (`null` otherwise). */
  readonly source: { readonly name: string; readonly connected: boolean | null };
  /** The output's state: `failing` since the first failed attempt, until a write succeeds. */
  readonly sink: { readonly failing: boolean; readonly lastError: string | null };
  /** The last committed batch of this run, or `null` before the first. */
  readonly lastBatch: { readonly id: number; readonly committedAt: string } | null;
  /** Seconds since the processor started. */
  readonly uptimeSeconds: number;
}

/** Options of {@link createHealth}. */
export interface HealthOptions {
  /** The source's name, for the report. */
  readonly sourceName: string;
  /** The pipeline's window, in ms: the stall limit is counted in windows. */
  readonly windowMs: number;
  /** Whether the source reaches its brokers; absent for sources without a connection (files, generator). */
  readonly connected?: () => boolean | null;
  /** How long read records may wait for a committed batch before the processor is unhealthy. */
  readonly stallAfterMs?: number;
  /** The clock, in ms. Default `Date.now`. */
  readonly now?: () => number;
}

/** The health state, updated by the processor and read by `/healthz`. */
export interface Health {
  /** The pipeline began reading. */
  running(): void;
  /** The source delivered `count` records. */
  recordsRead(count: number): void;
  /** A batch was written, checkpointed and acknowledged. */
  batchCommitted(batchId: number): void;
  /** A write to the output (a batch, or a storage request) failed. */
  outputFailed(reason: string): void;
  /** A batch write succeeded. */
  outputSucceeded(): void;
  /** The processor was asked to stop. */
  stopping(): void;
  /** The pipeline failed and the processor is about to exit. */
  failed(reason: string): void;
  /** The current state. */
  report(): HealthReport;
}

/**
 * Creates the health state. See the module documentation for the rules.
 *
 * @param options - the source's name, the window (ms), the connection probe, the stall limit (ms).
 * @returns the health state; {@link Health.report} is cheap and may be called at every request.
 *
 * @example
 * ```ts
 * const health = createHealth({ sourceName: 'file:tickets.jsonl', windowMs: 30_000 });
 * health.report().status;
 * // 'starting'
 * health.running();
 * health.outputFailed('ENOSPC: no space left on device');
 * health.report().reasons;
 * // ['writing to the output fails: ENOSPC: no space left on device']
 * ```
 */
export function createHealth(options: HealthOptions): Health {
  const now = options.now ?? Date.now;
  const stallAfterMs = options.stallAfterMs ?? Math.max(3 * options.windowMs, 60_000);
  const startedAt = now();
  let isRunning = false;
  let everConnected = false;
  let isStopping = false;
  let failure: string | undefined;
  let outputError: string | undefined;
  let waitingSince: number | undefined;
  let lastBatch: { id: number; at: number } | undefined;

  return {
    running() {
      isRunning = true;
    },
    recordsRead(count) {
      if (count > 0 && waitingSince === undefined) waitingSince = now();
    },
    batchCommitted(batchId) {
      lastBatch = { id: batchId, at: now() };
      waitingSince = undefined;
    },
    outputFailed(reason) {
      outputError = reason;
    },
    outputSucceeded() {
      outputError = undefined;
    },
    stopping() {
      isStopping = true;
    },
    failed(reason) {
      failure = reason;
    },
    report() {
      const connected = options.connected ? options.connected() : null;
      if (connected) everConnected = true;
      const reasons: string[] = [];
      let status: HealthStatus = 'ok';
      if (failure !== undefined) {
        status = 'failing';
        reasons.push(`the pipeline failed: ${failure}`);
      } else if (isStopping) {
        status = 'stopping';
        reasons.push('stopping: writing the open batch');
      } else if (!isRunning || (connected === false && !everConnected)) {
        status = 'starting';
        reasons.push(isRunning ? 'connecting to the brokers' : 'starting');
      } else {
        if (connected === false) reasons.push('the source lost its connection to the brokers');
        if (outputError !== undefined) reasons.push(`writing to the output fails: ${outputError}`);
        const t = now();
        if (waitingSince !== undefined && t - waitingSince > stallAfterMs) {
          reasons.push(
            `records have waited ${Math.round((t - waitingSince) / 1000)} s without a committed batch`,
          );
        }
        if (reasons.length > 0) status = 'failing';
      }
      return {
        status,
        healthy: status === 'ok',
        reasons,
        source: { name: options.sourceName, connected },
        sink: { failing: outputError !== undefined, lastError: outputError ?? null },
        lastBatch: lastBatch ? { id: lastBatch.id, committedAt: new Date(lastBatch.at).toISOString() } : null,
        uptimeSeconds: Math.round((now() - startedAt) / 1000),
      };
    },
  };
}
