/**
 * The names a TSDoc `@example` may use without declaring them: the reader's own code that an example
 * leaves out (a `Ticket` type, a `parseTicket` step, a `logger`), with small working values so that
 * the examples run. tsdoc-examples.test.ts imports from here only the names an example uses and does
 * not declare itself; everything else an example uses must come from a package's public entry point
 * or, for an internal helper, from its own module.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { of, VirtualTimeScheduler } from 'rxjs';
import { count, createPipeline, metrics, type RecordChunk, reject, type Step } from '../../src/index';
import { memorySink, memorySource } from '../../src/testing/index';

/** A support ticket, as the examples' aggregators read it. */
export interface Ticket {
  readonly ticket_id: string;
  readonly priority: 'low' | 'medium' | 'high' | 'critical';
  readonly request_type: string;
  readonly support_team: string;
  readonly sla_hours: number;
  readonly priority_score: number;
  readonly event_hour: number;
  readonly created_at_ms: number;
}

/** One ticket. */
export const ticket: Ticket = {
  ticket_id: 't-1',
  priority: 'high',
  request_type: 'billing',
  support_team: 'Billing Team',
  sla_hours: 4,
  priority_score: 3,
  event_hour: 10,
  created_at_ms: Date.UTC(2026, 2, 1, 10),
};

/** Parses one JSON line into a ticket, or rejects it. */
export const parseTicket: Step<string, Ticket> = (line) => {
  try {
    return JSON.parse(line) as Ticket;
  } catch {
    return reject('invalid JSON');
  }
};

/** Adds derived fields; here, returns the ticket as it is. */
export const enrichTicket = (t: Ticket): Ticket => t;

/** A virtual-time scheduler, as tests pass to sources and windows. */
export const scheduler = new VirtualTimeScheduler();

/** Record chunks, as a source emits them. */
export const chunks$ = of<RecordChunk<Ticket>>({ lane: 'memory', values: [ticket, ticket], offsets: [0, 1] });

/** A source of two JSON lines. */
export const source = memorySource([{ values: [JSON.stringify(ticket), JSON.stringify(ticket)] }]);

/** Complete pipeline options, and the `onEvent` listener of a Kafka source's options. */
export const options = {
  source,
  decode: parseTicket,
  metrics: metrics({ total: count() }),
  sink: memorySink(),
  onEvent: (event: { readonly level: string; readonly message: string }) => logger.info(event.message),
};

/** A pipeline built from {@link options}. */
export const pipeline = createPipeline(options);

/** A logger with pino's methods. */
export const logger = {
  info: (message: string) => console.log(message),
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

/** Checks the results an example states in its comments (see `claimsOf` in tsdoc-examples.ts). */
export const exampleClaims = {
  /** The statement evaluated to the value its comment states. */
  equal<T>(actual: T, stated: unknown, comment: string): T {
    assert.deepStrictEqual(
      actual,
      stated,
      `the example states ${comment}, but the code gives ${inspect(actual)}`,
    );
    return actual;
  },
  /** Every comparison its comment states holds. */
  hold(comparisons: readonly boolean[], comment: string): void {
    assert.ok(comparisons.every(Boolean), `the example states ${comment}, which does not hold`);
  },
};
