import { blobCheckpointStore, createPipeline, type DeadLetterHandler, type Source } from '@ticketflow/core';
import {
  type BatchLayout,
  blobDeadLetters,
  deadLetterFile,
  jsonSink,
  type S3RetryEvent,
} from '@ticketflow/json-sink';
import type { Logger } from '../logger';
import { type Operations, type OperationsSettings, startOperations } from '../ops/operations';
import { defaultDeadLetterPath, openOutput } from '../output';
import { formatTicketBatch, type TicketMetrics, ticketDecoder, ticketMetrics } from '../ticket-metrics';

/** Settings shared by every command that processes tickets. */
export interface ProcessorSettings extends OperationsSettings {
  readonly window: number;
  readonly maxRecords: number | undefined;
  readonly out: string;
  readonly checkpoint: string | undefined;
  readonly deadLetters: string | undefined;
  /** File layout of the batch files. Default `'flat'`. */
  readonly layout?: BatchLayout;
  /** Gzip-compresses the batch files. Default `false`. */
  readonly gzip?: boolean | undefined;
}

/** What a processor needs besides its settings. */
export interface ProcessorParts {
  readonly source: Source<string>;
  readonly logger: Logger;
  /** Replaces the default dead-letter file (a Kafka dead-letter topic, for instance). */
  readonly deadLetters?: DeadLetterHandler<string>;
  /** Consumer lag per partition, when the source is Kafka. */
  readonly lag?: () => ReadonlyArray<{ readonly partition: number; readonly lag: number }>;
  /** Whether the source reaches its brokers, when the source is Kafka: `/healthz` answers 503 when not. */
  readonly connected?: () => boolean;
}

/**
 * Runs the ticket processor until its source completes or the process is asked to stop (SIGINT,
 * SIGTERM): the open batch is then written and committed before it resolves. With `httpPort`, serves
 * `/healthz` and `/metrics` meanwhile (see `../ops/operations.ts`).
 */
export async function runProcessor(settings: ProcessorSettings, parts: ProcessorParts): Promise<void> {
  // Key-named secrets (saslPassword) are redacted by the logger; nothing else in the settings is secret.
  parts.logger.debug('settings', { ...settings });
  const ops = await startOperations(settings, {
    logger: parts.logger,
    sourceName: parts.source.name,
    ...(parts.lag ? { lag: parts.lag } : {}),
    ...(parts.connected ? { connected: parts.connected } : {}),
  });
  try {
    await processTickets(settings, parts, ops);
  } catch (error) {
    ops.failed(error);
    throw error;
  } finally {
    await ops.close();
  }
}

async function processTickets(settings: ProcessorSettings, parts: ProcessorParts, ops: Operations) {
  const { logger } = parts;
  const source = ops.watchSource(parts.source);
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
  } catch (error) {
    await Promise.allSettled(outputs.map((o) => o.close()));
    throw error;
  }
  const checkpoint = checkpointOutput
    ? blobCheckpointStore(checkpointOutput.store, { prefix: '' })
    : blobCheckpointStore(output.store);
  const deadLetters =
    parts.deadLetters ??
    (deadLetterOutput
      ? blobDeadLetters(deadLetterOutput.store, { prefix: '' })
      : settings.deadLetters === undefined && output.remote
        ? blobDeadLetters(output.store)
        : deadLetterFile(settings.deadLetters ?? defaultDeadLetterPath(output, '_dead_letters.jsonl')));
  const pipeline = createPipeline({
    source,
    decode: ticketDecoder(),
    metrics: ticketMetrics,
    sink: ops.watchSink(
      jsonSink<TicketMetrics>({
        store: output.store,
        format: formatTicketBatch,
        layout: settings.layout ?? 'flat',
        gzip: settings.gzip ?? false,
      }),
    ),
    checkpoint,
    deadLetters,
    window: { span: settings.window, ...(settings.maxRecords ? { maxRecords: settings.maxRecords } : {}) },
  });
  pipeline.progress$.subscribe((p) => {
    ops.batchCommitted(p);
    logger.info(`[✓] JSON metrics written → ${p.output}`, {
      batch: p.batchId,
      tickets: p.records,
      invalid: p.invalidRecords,
      inputPerSecond: Math.round(p.inputRecordsPerSecond),
      processedPerSecond: Math.round(p.processedRecordsPerSecond),
      durationMs: Math.round(p.durationMs.total),
      ...(p.replayed ? { replayed: true } : {}),
    });
  });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn(`second ${signal}: exiting without writing the open batch`);
      process.exit(130);
    }
    logger.info(`${signal} received: writing the open batch, then exiting`);
    ops.stopping();
    pipeline.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  logger.info(`processing ${source.name} → ${output.store.describe('')}`, {
    windowMs: settings.window,
    checkpoint: checkpoint.location,
  });
  try {
    const summary = await pipeline.run();
    logger.info('done', { ...summary });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.allSettled(outputs.map((o) => o.close()));
  }
}
