import { describeValue } from './errors';

/**
 * The outcome of a validation or transform step that refused a record. Steps return it rather than
 * throw, so that an invalid record costs one allocation and never unwinds the stack.
 */
export class Rejection {
  /** Why the record was refused, as one line a person can act on. */
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

/**
 * Refuses the current record with a reason; the engine counts it as invalid and sends it to the
 * dead-letter handler.
 *
 * @example
 * ```ts
 * const positive: Step<number, number> = (n) => (n > 0 ? n : reject(`expected a positive number, got ${n}`));
 * ```
 */
export function reject(reason: string): Rejection {
  return new Rejection(reason);
}

/** True when a step's result is a {@link Rejection}. */
export function isRejection(value: unknown): value is Rejection {
  return value instanceof Rejection;
}

/** Where a record came from: its lane (a partition, a file) and its offset in that lane. */
export interface RecordContext {
  /** The lane the record was read from, such as `client_tickets/0` or `input`. */
  readonly lane: string;
  /** The record's offset within its lane. */
  readonly offset: number;
}

/**
 * One validation or transform step: returns the transformed value, or a {@link Rejection}.
 * Steps compose with {@link composeSteps}.
 */
export type Step<In, Out> = (input: In, context: RecordContext) => Out | Rejection;

/** The longest reason kept from an error thrown by `decode`, in UTF-16 code units. */
const MAX_THROWN_REASON = 300;

/**
 * A one-line reason from whatever a decode step threw.
 *
 * @internal
 */
export function thrownReason(error: unknown): string {
  const message =
    error instanceof Error
      ? `${describeValue(error.name)}: ${describeValue(error.message)}`
      : describeValue(error);
  const line = message.replace(/[\r\n]+/g, ' ').trim();
  return `decode threw ${line.length > MAX_THROWN_REASON ? `${line.slice(0, MAX_THROWN_REASON - 1)}…` : line}`;
}
