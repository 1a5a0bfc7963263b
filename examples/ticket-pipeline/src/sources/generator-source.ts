import type { RecordChunk, Source } from '@ticketflow/core';
import { Observable } from 'rxjs';
import { type ArrivalOptions, generateTickets } from '../domain/generator';

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
  /**
   * When tickets are created relative to their arrival (see {@link ArrivalOptions}): mostly seconds
   * before, some minutes late, a few hours late. Default: `created_at` spread uniformly over the last
   * 48 hours, as `generate` writes them.
   */
  readonly arrivals?: ArrivalOptions;
  /** The clock `created_at` values are relative to, in epoch milliseconds. Default `Date.now`. */
  readonly now?: () => number;
}

const LANE = 'generator';

/**
 * The embedded source of the `run` command: synthetic tickets made in-process at a steady rate, so the
 * whole pipeline runs without a broker. Offsets continue from the checkpoint across restarts. With
 * `arrivals`, each ticket is dated when it is made, minus its arrival delay, so that event-time rollups
 * see hours close and late tickets arrive as in a live system.
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
          ...(options.arrivals ? { arrivals: options.arrivals } : {}),
          ...(options.now ? { now: options.now } : {}),
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
