import { isUtf8 } from 'node:buffer';
import { dirname } from 'node:path';
import {
  acquireLease,
  type BatchProgress,
  type BlobStore,
  blobCheckpointStore,
  type CheckpointStore,
  createPipeline,
  type DeadLetterHandler,
  describeValue,
  type Lease,
  type PartialAggregate,
  type Pipeline,
  type PipelineEvent,
  type RecordText,
  type Sink,
  type Source,
  type Step,
} from '@ticketflow/core';
import {
  type BatchLayout,
  blobDeadLetters,
  deadLetterFile,
  jsonSink,
  type S3RetryEvent,
} from '@ticketflow/json-sink';
import { type Operations, serveOperations } from '@ticketflow/ops';
import { Subject } from 'rxjs';
import type { EnrichedTicket } from '../domain/ticket';
import type { Logger } from '../logger';
import { ticketDashboardView } from '../ops/ticket-dashboard';
import { createFolder, defaultDeadLetterPath, openOutput } from '../output';
import type { Shutdown } from '../shutdown';
import { TICKET_FOLD_MODULE, type TicketFoldOptions } from '../ticket-fold';
import {
  formatTicketBatch,
  formatTicketRollup,
  type Rollup,
  type TicketMetrics,
  ticketDecoder,
  ticketMetrics,
  ticketRollups,
} from '../ticket-metrics';

/** Settings shared by every command that processes tickets. */
export interface ProcessorSettings {
  /** The window span, in ms. */
  readonly window: number;
  /** Serves `/healthz`, `/metrics` and the dashboard on this port when set; 0 picks a free port. */
  readonly httpPort?: number | undefined;
  /** The address the HTTP server listens on. Default `'127.0.0.1'` (this machine only). */
  readonly httpHost?: string | undefined;
  /**
   * How long a failing durable step of a batch is retried, in ms, before the processor gives up and
   * exits 1: recording the batch in the checkpoint, writing its dead letters, writing its batch file,
   * committing it in the checkpoint (and the lease checks before each). Default: not retried (the
   * processor exits at the first failure; S3 requests are still retried by the AWS SDK, about 16 s).
   */
  readonly sinkRetryFor?: number | undefined;
  readonly maxRecords: number | undefined;
  readonly out: string;
  readonly checkpoint: string | undefined;
  readonly deadLetters: string | undefined;
  /** File layout of the batch files. Default `'flat'`. */
  readonly layout?: BatchLayout;
  /** Gzip-compresses the batch files. Default `false`. */
  readonly gzip?: boolean | undefined;
  /**
   * How long the output's lease lasts without renewal, in ms (`--lease-ttl`). A second processor on the
   * same output is refused until then; after a crash, a restart waits up to this long. Default 30000.
   */
  readonly leaseTtl?: number | undefined;
  /** Event-time rollups to write (`--rollups hour,day`); none when empty or absent. */
  readonly rollups?: readonly Rollup[] | undefined;
  /** How far the watermark trails the latest `created_at`, in ms (`--allowed-lateness`). Default 10 min. */
  readonly allowedLateness?: number | undefined;
  /** A partition idle this long stops holding the watermark back, in ms (`--idle-timeout`). Default 1 min. */
  readonly idleTimeout?: number | undefined;
  /** Worker threads that decode and fold the tickets (`--workers`); 1 or absent: all on the main thread. */
  readonly workers?: number | undefined;
  /**
   * How records cross to the worker threads when they are not lines of text: Kafka messages as their
   * values' text (`kafkaValueText`). Default: lines of text.
   */
  readonly workerText?: RecordText<never> | undefined;
}

/**
 * What a processor needs besides its settings. A source of text records needs nothing more; any other
 * record type (Kafka messages) brings its own `decode` step and dead-letter handler.
 */
export type ProcessorParts<R = string> = ProcessorCommonParts &
  (R extends string
    ? { readonly source: Source<R>; readonly decode?: undefined; readonly deadLetters?: DeadLetterHandler<R> }
    : {
        readonly source: Source<R>;
        /** Turns a raw record into an enriched ticket, or refuses it. */
        readonly decode: Step<R, EnrichedTicket>;
        readonly deadLetters: DeadLetterHandler<R>;
      });

/** The parts every processor takes. */
export interface ProcessorCommonParts {
  readonly logger: Logger;
  /** The process's stop request: once aborted, the open batch is written and the processor resolves. */
  readonly shutdown: Shutdown;
}

/**
 * Runs the ticket processor until its source completes or the process is asked to stop (SIGINT,
 * SIGTERM): the open batch is then written and committed before it resolves. With `httpPort`, serves
 * `/healthz`, `/metrics` and the live dashboard (`/`) meanwhile (see `serveOperations` of
 * `@ticketflow/ops`).
 */
export async function runProcessor<R>(settings: ProcessorSettings, parts: ProcessorParts<R>): Promise<void> {
  await withOperations(settings, parts, (ops, events$) =>
    writeMetrics(
      settings,
      {
        ...parts,
        decode: parts.decode ?? (ticketDecoder() as Step<unknown, EnrichedTicket> as Step<R, EnrichedTicket>),
        stage: 'final',
      },
      ops,
      events$,
    ),
  );
}

/** What the merge of partial aggregates reads: the partials topic, as Kafka records. */
export interface MergeParts<R> extends ProcessorCommonParts {
  readonly source: Source<R>;
  /** Turns a raw record into a partial aggregate (`composeSteps(kafkaText, parsePartial)`), or refuses it. */
  readonly decode: Step<R, PartialAggregate>;
  /**
   * How a refused record is written to the dead-letter file (or `_dead_letters/` on S3), which takes the
   * place of the dead-letter topic of the partial processors: only partials that cannot be read go there.
   */
  readonly deadLetterValue: (record: R) => unknown;
}

/**
 * Runs the merge of partial aggregates (`merge`, see "Scale-out" in the design) until its source
 * completes or the process is asked to stop: like {@link runProcessor} (files, checkpoint, lease,
 * dead letters, rollups, `/healthz`, `/metrics` and the dashboard), but each record is a partial processor's
 * batch, merged rather than folded.
 */
export async function runMerge<R>(settings: ProcessorSettings, parts: MergeParts<R>): Promise<void> {
  await withOperations(
    settings,
    parts,
    (ops, events$) =>
      writeMetrics(
        settings,
        {
          ...parts,
          // The merge stage's records are partial aggregates, merged into the accumulator whose metrics
          // (the tickets') name its codec: the decoded type is the pipeline's, not the metrics' input.
          decode: parts.decode as Step<R, unknown> as Step<R, EnrichedTicket>,
          stage: 'merge',
        },
        ops,
        events$,
      ),
    'merge',
  );
}

/** Settings of a partial processor (`process --partials-topic`): it writes no file. */
export type PartialSettings = Pick<
  ProcessorSettings,
  'window' | 'maxRecords' | 'httpPort' | 'httpHost' | 'rollups' | 'allowedLateness' | 'idleTimeout'
> & {
  /** Where each batch's partial aggregate is produced. */
  readonly partialsTopic: string;
};

/**
 * What a partial processor writes through: one Kafka transaction per batch, holding the batch's partial
 * aggregate, its dead letters and its consumed offsets (`kafkaPartials` of `@ticketflow/kafka-source`).
 */
export interface PartialParts<R> extends ProcessorCommonParts {
  readonly source: Source<R>;
  readonly decode: Step<R, EnrichedTicket>;
  readonly transaction: {
    readonly checkpoint: CheckpointStore;
    readonly sink: Sink<unknown>;
    readonly deadLetters: DeadLetterHandler<R>;
  };
}

/**
 * Runs a partial processor (`process --partials-topic`) until its source completes or the process is asked
 * to stop: each micro-batch is folded as usual and produced as a partial aggregate, with its dead letters
 * and consumed offsets, in one Kafka transaction; no file, checkpoint folder or lease (the transaction and
 * its fencing by transactional id take their place). Serves `/healthz`, `/metrics` and the dashboard as
 * {@link runProcessor} does. A failed transaction is aborted and ends the run: the next run consumes again
 * from the committed offsets.
 */
export async function runPartialProcessor<R>(
  settings: PartialSettings,
  parts: PartialParts<R>,
): Promise<void> {
  await withOperations(
    settings,
    parts,
    async (ops, events$) => {
      const { logger } = parts;
      const eventTime = rollupsOf(settings);
      const pipeline = createPipeline({
        stage: 'partial',
        source: parts.source,
        decode: parts.decode,
        metrics: ticketMetrics,
        sink: ops.watchSink(parts.transaction.sink),
        checkpoint: parts.transaction.checkpoint,
        deadLetters: parts.transaction.deadLetters,
        window: windowOf(settings),
        // No retry of a single step: a failed step aborts the batch's transaction, which only a new run
        // (from the committed offsets) can do again.
        ...(eventTime ? { eventTime } : {}),
      });
      pipeline.events$.subscribe(events$);
      pipeline.events$.subscribe((event) => {
        if (event.type === 'batch-committed') {
          const p = event.batch;
          logger.info(
            `[✓] partial of batch ${p.batchId} committed → ${settings.partialsTopic}`,
            batchFields(p),
          );
        }
      });
      await drive(
        pipeline,
        parts,
        `processing ${parts.source.name} → partials topic ${settings.partialsTopic}`,
        {
          windowMs: settings.window,
          ...(eventTime ? { rollups: (settings.rollups ?? []).join(',') } : {}),
        },
      );
    },
    'partial',
  );
}

/**
 * Serves `/healthz`, `/metrics` and the dashboard (with `httpPort`) while `body` runs: the server answers
 * (`starting`) while the outputs are opened, then follows the pipeline's events, which `body` forwards
 * to `events$`; a failure of `body` is reported by `/healthz` until the server closes.
 */
async function withOperations(
  settings: Pick<ProcessorSettings, 'window' | 'httpPort' | 'httpHost' | 'sinkRetryFor'>,
  parts: ProcessorCommonParts & { readonly source: { readonly name: string } },
  body: (ops: Operations, events$: Subject<PipelineEvent>) => Promise<void>,
  stage: 'final' | 'partial' | 'merge' = 'final',
): Promise<void> {
  // Key-named secrets (saslPassword) are redacted by the logger; nothing else in the settings is secret.
  parts.logger.debug('settings', { ...settings });
  const events$ = new Subject<PipelineEvent>();
  const ops = await serveOperations({
    events$,
    ...(settings.httpPort !== undefined ? { port: settings.httpPort } : {}),
    ...(settings.httpHost !== undefined ? { host: settings.httpHost } : {}),
    portSetting: '--http-port',
    sourceName: parts.source.name,
    windowMs: settings.window,
    ...(settings.sinkRetryFor !== undefined ? { retryFor: settings.sinkRetryFor } : {}),
    logger: parts.logger,
    dashboard: { title: 'ticket pipeline', view: ticketDashboardView },
    stage,
  });
  try {
    await body(ops, events$);
  } catch (error) {
    ops.failed(error);
    throw error;
  } finally {
    await ops.close();
  }
}

/** The micro-batch window of the settings. */
function windowOf(settings: Pick<ProcessorSettings, 'window' | 'maxRecords'>) {
  return { span: settings.window, ...(settings.maxRecords ? { maxRecords: settings.maxRecords } : {}) };
}

/** The event-time rollups of the settings (`--rollups`), if any. */
function rollupsOf(settings: Pick<ProcessorSettings, 'rollups' | 'allowedLateness' | 'idleTimeout'>) {
  return ticketRollups(settings.rollups ?? [], {
    allowedLateness: settings.allowedLateness ?? 600_000,
    idleTimeout: settings.idleTimeout ?? 60_000,
  });
}

/** What {@link writeMetrics} runs: a final stage over tickets, or the merge of partial aggregates. */
interface WritingParts<R> extends ProcessorCommonParts {
  readonly source: Source<R>;
  readonly decode: Step<R, EnrichedTicket>;
  readonly deadLetters?: DeadLetterHandler<R> | undefined;
  /** How a record is written by the default dead-letter outputs. Default: as it is (text). */
  readonly deadLetterValue?: ((record: R) => unknown) | undefined;
  readonly stage: 'final' | 'merge';
}

/**
 * Runs a stage that writes the metrics files: opens the outputs, takes the lease, then runs the pipeline
 * with the JSON sink, the checkpoint beside the output and the dead letters until it ends.
 */
async function writeMetrics<R>(
  settings: ProcessorSettings,
  parts: WritingParts<R>,
  ops: Operations,
  events$: Subject<PipelineEvent>,
) {
  const { logger } = parts;
  const { source } = parts;
  const onRetry = (e: S3RetryEvent) => {
    ops.outputRetrying(`S3 ${e.operation} failed (${e.reason})`);
    logger.warn(
      `S3 ${e.operation} of ${e.location} failed (${e.reason}), attempt ${e.attempt} of ${e.maxAttempts}; retrying in ${e.delayMs} ms`,
    );
  };
  const output = openOutput(settings.out, { onRetry });
  const checkpointOutput = settings.checkpoint
    ? openOutput(settings.checkpoint, { setting: '--checkpoint', onRetry })
    : undefined;
  const deadLetterOutput = settings.deadLetters?.startsWith('s3://')
    ? openOutput(settings.deadLetters, { setting: '--dead-letters', onRetry })
    : undefined;
  const outputs = [output, checkpointOutput, deadLetterOutput].filter((o) => o !== undefined);
  // A missing bucket or refused credentials fail here, before anything is read.
  try {
    for (const o of outputs) await o.check();
    // A local dead-letter file's folder is checked the same way, before anything is read.
    if (parts.deadLetters === undefined && deadLetterOutput === undefined && !output.remote)
      await createFolder(
        dirname(settings.deadLetters ?? defaultDeadLetterPath(output, '_dead_letters.jsonl')),
      );
  } catch (error) {
    await Promise.allSettled(outputs.map((o) => o.close()));
    throw error;
  }
  const checkpoint = checkpointOutput
    ? blobCheckpointStore(checkpointOutput.store, { prefix: '' })
    : blobCheckpointStore(output.store);
  // One owner per output: the lease lives beside the checkpoint (`<out>/_checkpoint/lease/`, or
  // `<checkpoint>/lease/`). Leftovers of interrupted writes are removed only once it is held.
  let leases: Lease[];
  try {
    leases = await leaseOutputs(settings, parts, output.store, checkpointOutput?.store);
    // With the checkpoint elsewhere, the output folder's leftovers are ours too once the checkpoint is.
    if (checkpointOutput) await removeLeftovers(output.store, logger);
  } catch (error) {
    await Promise.allSettled(outputs.map((o) => o.close()));
    throw error;
  }
  const deadLetters: DeadLetterHandler<R> =
    parts.deadLetters ??
    // Without a handler of their own, records are text (see ProcessorParts) or say how to write them.
    deadLettersOf(
      deadLetterOutput
        ? blobDeadLetters(deadLetterOutput.store, { prefix: '' })
        : settings.deadLetters === undefined && output.remote
          ? blobDeadLetters(output.store)
          : deadLetterFile(settings.deadLetters ?? defaultDeadLetterPath(output, '_dead_letters.jsonl')),
      parts.deadLetterValue,
    );
  const eventTime = rollupsOf(settings);
  const workers =
    settings.workers !== undefined && settings.workers > 1 && parts.stage === 'final'
      ? {
          module: TICKET_FOLD_MODULE,
          count: settings.workers,
          options: {
            rollups: settings.rollups ?? [],
            allowedLateness: settings.allowedLateness ?? 600_000,
            idleTimeout: settings.idleTimeout ?? 60_000,
          } satisfies TicketFoldOptions,
          ...(settings.workerText ? { text: settings.workerText as RecordText<R> } : {}),
        }
      : undefined;
  const pipeline = createPipeline({
    stage: parts.stage,
    source,
    decode: parts.decode,
    metrics: ticketMetrics,
    sink: ops.watchSink(
      jsonSink<TicketMetrics>({
        store: output.store,
        format: formatTicketBatch,
        windowFormat: formatTicketRollup,
        layout: settings.layout ?? 'flat',
        gzip: settings.gzip ?? false,
      }),
    ),
    checkpoint,
    deadLetters,
    window: windowOf(settings),
    retry: ops.retryOptions(),
    lease: { assertHeld: async () => void (await Promise.all(leases.map((l) => l.assertHeld()))) },
    ...(eventTime ? { eventTime } : {}),
    ...(workers ? { workers } : {}),
  });
  pipeline.events$.subscribe(events$);
  pipeline.events$.subscribe((event) => {
    if (event.type === 'batch-committed') {
      const p = event.batch;
      logger.info(`[✓] JSON metrics written → ${p.output}`, {
        ...batchFields(p),
        ...(p.lateRecords ? { late: Object.values(p.lateRecords)[0] ?? 0 } : {}),
        ...(p.watermark !== undefined ? { watermark: p.watermark?.toISOString() ?? null } : {}),
      });
    } else if (event.type === 'window-finalized') {
      const w = event.window;
      logger.info(`[✓] ${w.name} rollup ${w.windowStart.toISOString()} written, final → ${w.output}`, {
        batch: event.batchId,
        tickets: w.records,
      });
    }
  });

  try {
    await drive(
      pipeline,
      parts,
      `${parts.stage === 'merge' ? 'merging' : 'processing'} ${source.name} → ${output.store.describe('')}`,
      {
        windowMs: settings.window,
        checkpoint: checkpoint.location,
      },
    );
  } finally {
    await releaseLeases(leases, logger);
    await Promise.allSettled(outputs.map((o) => o.close()));
  }
}

/**
 * Runs a pipeline until its source completes or the process is asked to stop (the open batch is then
 * written and committed), logging where it goes first and its totals last.
 */
async function drive(
  pipeline: Pipeline,
  parts: ProcessorCommonParts,
  starting: string,
  fields: Record<string, unknown>,
): Promise<void> {
  const { logger, shutdown } = parts;
  shutdown.onSecondSignal = (signal) =>
    logger.warn(`second ${signal}: exiting without writing the open batch`);
  const onStop = () => {
    logger.info(`${shutdown.received ?? 'stop'} received: writing the open batch, then exiting`);
    pipeline.stop();
  };
  logger.info(starting, fields);
  // A signal that arrived during start-up stops the pipeline as soon as it runs.
  if (shutdown.signal.aborted) onStop();
  else shutdown.signal.addEventListener('abort', onStop, { once: true });
  try {
    const summary = await pipeline.run();
    const { lastBatchId, ...totals } = summary;
    logger.info('done', { ...totals, ...(lastBatchId !== undefined ? { lastBatchId } : {}) });
  } finally {
    shutdown.signal.removeEventListener('abort', onStop);
  }
}

/** A default dead-letter output over records written as `value(record)` (as they are without it). */
function deadLettersOf<R>(
  handler: DeadLetterHandler<unknown>,
  value?: (record: R) => unknown,
): DeadLetterHandler<R> {
  if (value === undefined) return handler as DeadLetterHandler<R>;
  return {
    write: (letter) => handler.write({ ...letter, value: value(letter.value) }),
    flush: () => handler.flush(),
    ...(handler.close ? { close: () => (handler.close as () => Promise<void>)() } : {}),
  };
}

/**
 * A Kafka message's value as a dead-letter file holds it: its text when it is UTF-8, else its bytes in
 * base64 (`{"base64": …}`), and `null` for a message without a value.
 */
export function kafkaValueOf(record: { readonly value: Buffer | null }): unknown {
  const { value } = record;
  if (value === null || value === undefined) return null;
  return isUtf8(value) ? value.toString('utf8') : { base64: value.toString('base64') };
}

/**
 * Takes the lease on the checkpoint's location, then removes the leftovers of interrupted writes there.
 * Rejects with the lease's one-line `CHECKPOINT_CONFLICT` when another processor holds it.
 */
async function leaseOutputs(
  settings: ProcessorSettings,
  parts: ProcessorCommonParts,
  output: BlobStore,
  checkpoint: BlobStore | undefined,
): Promise<Lease[]> {
  const { logger } = parts;
  const resource = output.describe('');
  const ttl = settings.leaseTtl ?? 30_000;
  const targets: Array<{ store: BlobStore; prefix: string }> = checkpoint
    ? [{ store: checkpoint, prefix: 'lease/' }]
    : [{ store: output, prefix: '_checkpoint/lease/' }];
  const leases: Lease[] = [];
  try {
    for (const { store, prefix } of targets) {
      const lease = await acquireLease(store, {
        prefix,
        ttl,
        resource,
        onRenewFailed: (error) =>
          logger.warn(
            `${error.message}; the lease stays held until ${new Date(lease.expiresAt).toISOString()}, retrying`,
          ),
        onLost: (error) => logger.error(error.message),
      });
      leases.push(lease);
      if (lease.tookOver) {
        const was = lease.tookOver;
        logger.warn(
          `took over the lease on ${resource} from host ${was.host}, pid ${was.pid}, which was never released (that processor was killed or lost its storage; its lease ran until ${was.expiresAt})`,
        );
      }
    }
  } catch (error) {
    await releaseLeases(leases, logger);
    throw error;
  }
  for (const { store } of targets) await removeLeftovers(store, logger);
  return leases;
}

/** Removes the temporary files of interrupted writes (see `BlobStore.removeLeftovers`), logging them. */
async function removeLeftovers(store: BlobStore, logger: Logger): Promise<void> {
  let removed: string[];
  try {
    removed = (await store.removeLeftovers?.()) ?? [];
  } catch (error) {
    // Not worth stopping for: the batch writes meet the same trouble and follow the retry policy.
    logger.warn(
      `cannot remove leftover temporary files: ${describeValue(error instanceof Error ? error.message : error)}`,
    );
    return;
  }
  if (removed.length > 0) {
    logger.info(`removed ${removed.length} leftover temporary file(s) of interrupted writes`, {
      files: removed.slice(0, 10).join(' '),
    });
  }
}

/** Gives the leases up, so that a successor starts at once; a failure only costs it the lease's ttl. */
async function releaseLeases(leases: readonly Lease[], logger: Logger): Promise<void> {
  for (const lease of leases) {
    await lease.release().catch((error: unknown) => {
      logger.warn(
        `cannot release the lease ${lease.location} (${describeValue(error instanceof Error ? error.message : error)}): a successor waits until it expires`,
      );
    });
  }
}

/** The fields of a committed batch's log line. */
function batchFields(p: BatchProgress): Record<string, unknown> {
  return {
    batch: p.batchId,
    tickets: p.records,
    invalid: p.invalidRecords,
    inputPerSecond: Math.round(p.inputRecordsPerSecond),
    processedPerSecond: Math.round(p.processedRecordsPerSecond),
    durationMs: Math.round(p.durationMs.total),
    ...(p.replayed ? { replayed: true } : {}),
  };
}
