import { once } from 'node:events';
import { generateTickets } from '../domain/generator';
import type { Progress } from '../progress';

/** Settings of the `generate` command. */
export interface GenerateSettings {
  readonly count: number | undefined;
  readonly seed: number | undefined;
  readonly badFraction: number;
}

/**
 * Writes `count` synthetic tickets as JSON Lines to `out` (standard output), honouring backpressure.
 * Stops after the current block of whole lines once `signal` aborts. `progress` hears how many are written.
 */
export async function generate(
  settings: GenerateSettings,
  out: NodeJS.WritableStream = process.stdout,
  signal?: AbortSignal,
  progress?: Progress,
): Promise<void> {
  const total = settings.count ?? 0;
  const tickets = generateTickets({ seed: settings.seed ?? 1, badFraction: settings.badFraction });
  const block = 1000;
  for (let written = 0; written < total && !signal?.aborted; ) {
    const n = Math.min(block, total - written);
    let text = '';
    for (let i = 0; i < n; i++) text += `${tickets.next().value}\n`;
    written += n;
    progress?.update({ records: written });
    if (!out.write(text)) await once(out, 'drain');
  }
}
