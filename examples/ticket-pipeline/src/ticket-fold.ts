/**
 * The ticket processor's fold module for worker threads (`process --workers N`): each worker
 * thread loads this file and builds from it the decode step, the batch metrics and the rollups that the
 * processor builds on the main thread, so that both fold alike (the engine checks that they agree).
 *
 * @module
 */
import { type FoldDefinition, foldWorker, type Step } from '@ticketflow/core';
import type { EnrichedTicket } from './domain/ticket';
import { type Rollup, ticketDecoder, ticketMetrics, ticketRollups } from './ticket-metrics';

/** What the fold is built from: the rollup settings of the command line. */
export interface TicketFoldOptions {
  /** `--rollups`; none when empty. */
  readonly rollups: readonly Rollup[];
  /** `--allowed-lateness`, in ms. */
  readonly allowedLateness: number;
  /** `--idle-timeout`, in ms. */
  readonly idleTimeout: number;
}

/**
 * The fold of ticket text (a line of a file, or a Kafka message's value, which the worker threads
 * receive as text: see `kafkaValueText`): parse, validate and enrich; the ticket metrics; the rollups
 * asked for.
 */
export function ticketFold(options: TicketFoldOptions): FoldDefinition<unknown, EnrichedTicket, unknown> {
  const eventTime = ticketRollups(options.rollups, {
    allowedLateness: options.allowedLateness,
    idleTimeout: options.idleTimeout,
  });
  return {
    decode: ticketDecoder() as Step<unknown, EnrichedTicket>,
    metrics: ticketMetrics as FoldDefinition<unknown, EnrichedTicket, unknown>['metrics'],
    ...(eventTime ? { eventTime } : {}),
  };
}

export default foldWorker(ticketFold);

/**
 * This module's location for `WorkerOptions.module`: beside the built binary (`dist/ticket-fold.js`),
 * or the TypeScript source when the processor itself runs from its sources.
 */
export const TICKET_FOLD_MODULE = new URL(
  import.meta.url.endsWith('.ts') ? './ticket-fold.ts' : './ticket-fold.js',
  import.meta.url,
);
