import type { RecordChunk, Source } from '@ticketflow/core';
import { Observable } from 'rxjs';
import { generateTickets } from '../domain/generator';

/** Options of {@link generatorSource}. */
export interface GeneratorSourceOptions {
  /** Tickets per second. */
  readonly rate: number;
  /** Seed of the generator. Default: the current time. */
  readonly seed?: number;
  /** Fraction of deliberately invalid records, 0 to 1. Default 0. */
  readonly badFraction?: number;
  /** How often a chunk of tickets is emitted, in ms. Default 100. */
  readonly tickMs?: number;
}

const LANE = 'generator';

/**
 * The embedded source of the `run` command: synthetic tickets made in-process at a steady rate, so the
 * whole pipeline runs without a broker. Offsets continue from the checkpoint across restarts.
 */
export function generatorSource(options: GeneratorSourceOptions): Source<string> {
  const tickMs = options.tickMs ?? 100;
  return {
    name: 'generator',
    open(context) {
      return new Observable<RecordChunk<string>>((subscriber) => {
        const tickets = generateTickets({
          seed: options.seed ?? Date.now(),
          badFraction: options.badFraction ?? 0,
        });
        let offset = context.startAt[LANE] ?? 0;
        let owed = 0;
        let paused = false;
        const pressure = context.pressure.subscribe((value) => {
          paused = value;
        });
        const timer = setInterval(() => {
          if (paused) return;
          owed += (options.rate * tickMs) / 1000;
          const n = Math.floor(owed);
          owed -= n;
          if (n === 0) return;
          const values: string[] = [];
          const offsets: number[] = [];
          for (let i = 0; i < n; i++) {
            values.push(tickets.next().value);
            offsets.push(offset++);
          }
          subscriber.next({ lane: LANE, values, offsets });
        }, tickMs);
        const stop = () => subscriber.complete();
        if (context.signal.aborted) stop();
        else context.signal.addEventListener('abort', stop, { once: true });
        return () => {
          clearInterval(timer);
          pressure.unsubscribe();
          context.signal.removeEventListener('abort', stop);
        };
      });
    },
    acknowledge: async () => {},
  };
}
