/**
 * What the replay benchmarks share: the ticket file they read and the pipeline they time.
 *
 * @module
 */
import { once } from 'node:events';
import { createWriteStream, renameSync } from 'node:fs';
import { createPipeline, lineSource, memoryCheckpointStore, type Pipeline } from '@ticketflow/core';
import { generateTickets } from '../examples/ticket-pipeline/src/domain/generator';
import {
  formatTicketBatch,
  formatTicketRollup,
  type TicketMetrics,
  ticketDecoder,
  ticketMetrics,
  ticketRollups,
} from '../examples/ticket-pipeline/src/ticket-metrics';

/** The benchmark's tickets: seed 42, 1 % invalid, `now` fixed at 2026-03-01T12:00Z. */
export const benchTickets = (): Generator<string> =>
  generateTickets({ seed: 42, badFraction: 0.01, now: () => Date.UTC(2026, 2, 1, 12) });

/** Writes the first `count` of {@link benchTickets} to `path` (through `path.tmp`, renamed when whole). */
export async function writeTicketFile(path: string, count: number): Promise<void> {
  const out = createWriteStream(`${path}.tmp`);
  const tickets = benchTickets();
  for (let written = 0; written < count; ) {
    const n = Math.min(5000, count - written);
    let text = '';
    for (let i = 0; i < n; i++) text += `${tickets.next().value}\n`;
    written += n;
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  renameSync(`${path}.tmp`, path);
}

/**
 * The ticket pipeline as the CLI builds it, over the lines of `path`, in one window, its output kept in
 * memory: each batch, and with `rollups` each hourly and daily window made final, is serialized as its
 * file would be and handed to `written`.
 */
export function ticketPipeline(
  path: string,
  rollups: boolean,
  written: (text: string, kind: 'batch' | 'window', metrics: TicketMetrics) => void,
): Pipeline {
  const eventTime = rollups
    ? ticketRollups(['hour', 'day'], { allowedLateness: 600_000, idleTimeout: 60_000 })
    : undefined;
  return createPipeline({
    ...(eventTime ? { eventTime } : {}),
    source: lineSource({ path }),
    decode: ticketDecoder(),
    metrics: ticketMetrics,
    sink: {
      write: async (batch) => {
        written(JSON.stringify(formatTicketBatch(batch)), 'batch', batch.metrics);
        for (const window of batch.windows ?? [])
          written(JSON.stringify(formatTicketRollup(window, batch)), 'window', batch.metrics);
      },
      describe: (id) => `memory:${id}`,
    },
    checkpoint: memoryCheckpointStore(),
    window: { span: '1h' },
  });
}
