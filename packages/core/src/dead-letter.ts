/** An invalid record, with where it came from and why it was refused. */
export interface DeadLetter<R> {
  /** The record's raw value, as the source gave it. */
  readonly value: R;
  /** Why it was refused: one line. */
  readonly reason: string;
  /** The lane it was read from. */
  readonly lane: string;
  /** Its offset in the lane. */
  readonly offset: number;
}

/**
 * Where invalid records go. `write` is called as records are refused, in order; `flush` resolves once
 * every written record is durable and is awaited before the batch holding them is acknowledged, so no
 * invalid record is lost. After a crash, records of the replayed batch may be written again: delivery
 * to the dead-letter output is at least once, and `lane` and `offset` identify duplicates.
 */
export interface DeadLetterHandler<R> {
  /** Takes one invalid record. Must not throw; may buffer. */
  write(letter: DeadLetter<R>): void;
  /** Makes every record written so far durable. */
  flush(): Promise<void>;
  /** Flushes and releases resources. */
  close?(): Promise<void>;
}

/** A dead-letter handler that keeps nothing: invalid records are only counted. */
export const discardDeadLetters: DeadLetterHandler<unknown> = {
  write: () => {},
  flush: async () => {},
};
