import { InvalidOptionError } from './errors';

/** A span of time: milliseconds as a number, or a string such as `'500ms'`, `'30s'`, `'5m'`, `'1h'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h'}`;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The longest duration a Node.js timer honours: 2^31 - 1 ms (about 24.8 days, 596.5 h). A longer one
 * would fire after 1 ms, so {@link toMilliseconds} refuses it.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/**
 * Converts a {@link Duration} to milliseconds; throws {@link InvalidOptionError} naming `option` when the
 * value is not a positive, finite span, or when it is longer than {@link MAX_DURATION_MS} (a timer
 * cannot wait that long).
 *
 * @example
 * ```ts
 * toMilliseconds('30s', 'window') // 30000
 * ```
 */
export function toMilliseconds(value: Duration | string, option: string): number {
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value);
    ms = match ? Number(match[1]) * (UNITS[match[2] as string] as number) : Number.NaN;
  }
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new InvalidOptionError(
      `${option} must be a positive duration such as 500ms, 30s, 5m or 1h, got ${JSON.stringify(value)}`,
    );
  }
  if (ms > MAX_DURATION_MS) {
    throw new InvalidOptionError(
      `${option} must be at most 596h (${MAX_DURATION_MS} ms, the longest a timer can wait), got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}
