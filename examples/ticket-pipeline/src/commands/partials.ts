/**
 * Scale-out (see "Scale-out" in the design): `process --partials-topic` runs a partial processor, and
 * `merge` merges the partial aggregates of every partial processor into the metrics files. This module
 * wires the Kafka parts of both; {@link ./processor} runs them.
 *
 * @module
 */
import { composeSteps, describeValue, InvalidOptionError, parsePartial } from '@ticketflow/core';
import type { KafkaConnectionOptions } from '@ticketflow/kafka-source';
import type { Settings } from '../config';
import type { Logger } from '../logger';
import type { Shutdown } from '../shutdown';

/** The transactional id of a partial processor: stable across its restarts, so that they fence the old one. */
export function partialTransactionalId(group: string, instanceId: string): string {
  return `ticketflow-partial-${group}-${instanceId}`;
}

/**
 * Runs `process --partials-topic`: reads the tickets' topic in the group (as `process` does) and produces
 * each micro-batch's partial aggregate, its dead letters and its consumed offsets in one Kafka
 * transaction. Resolves once stopped; rejects with a one-line error when a transaction fails (fenced by
 * another processor with the same `--instance-id`, partials topic missing, transaction timed out), after
 * which a restart consumes again from the committed offsets.
 */
export async function runPartials(
  settings: Settings<'process'>,
  connection: KafkaConnectionOptions,
  logger: Logger,
  shutdown: Shutdown,
): Promise<void> {
  const { partialsTopic, instanceId } = settings;
  // Both are checked with the command line (config.ts); a stable instance id is what fences a zombie.
  if (partialsTopic === undefined || instanceId === undefined)
    throw new InvalidOptionError('process --partials-topic needs --instance-id ID');
  const [{ kafkaPartials, kafkaSource, kafkaText }, { ticketDecoder }, { runPartialProcessor }] =
    await Promise.all([
      import('@ticketflow/kafka-source'),
      import('../ticket-metrics'),
      import('./processor'),
    ]);
  const source = kafkaSource({
    ...connection,
    topic: settings.topic,
    groupId: settings.group,
    instanceId,
    startFrom: settings.startFrom === 'latest' ? 'latest' : 'earliest',
    onDataLoss: settings.onDataLoss,
    // The offsets are committed by each batch's transaction, with its partial.
    offsets: 'transaction',
    onEvent: (event) => logger[event.level](event.message),
  });
  const transaction = kafkaPartials({
    ...connection,
    partialsTopic,
    deadLetterTopic: settings.deadLetterTopic ?? `${settings.topic}.dlq`,
    transactionalId: partialTransactionalId(settings.group, instanceId),
    source,
    onWarning: (message) => logger.warn(message),
  });
  try {
    await runPartialProcessor(
      { ...settings, partialsTopic },
      {
        source,
        decode: composeSteps(kafkaText, ticketDecoder()),
        logger,
        shutdown,
        transaction,
      },
    );
  } finally {
    await transaction.close().catch((error: unknown) => {
      logger.warn(
        `cannot close the transactional producer (${describeValue(error instanceof Error ? error.message : error)})`,
      );
    });
  }
}

/**
 * Runs `merge`: reads the committed partial aggregates of the partials topic in its own group, merges them
 * into micro-batches and event-time rollups, and writes the files, with the checkpoint and lease of
 * `process`. A message that is not a partial aggregate goes to the dead-letter file.
 */
export async function runMergeCommand(
  settings: Settings<'merge'>,
  connection: KafkaConnectionOptions,
  logger: Logger,
  shutdown: Shutdown,
): Promise<void> {
  const [{ kafkaSource, kafkaText }, { kafkaValueOf, runMerge }] = await Promise.all([
    import('@ticketflow/kafka-source'),
    import('./processor'),
  ]);
  const source = kafkaSource({
    ...connection,
    topic: settings.partialsTopic,
    groupId: settings.group,
    // Partials of aborted transactions (a partial processor that failed) are never merged.
    isolationLevel: 'read_committed',
    startFrom: 'earliest',
    onDataLoss: settings.onDataLoss,
    ...(settings.instanceId ? { instanceId: settings.instanceId } : {}),
    onEvent: (event) => logger[event.level](event.message),
  });
  await runMerge(settings, {
    source,
    decode: composeSteps(kafkaText, parsePartial),
    deadLetterValue: kafkaValueOf,
    logger,
    shutdown,
  });
}
