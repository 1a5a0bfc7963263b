import type { Aggregator } from '../aggregator';
import { InvalidOptionError } from '../errors';
import {
  QuantileSketch,
  resolveTrinoTDigestOptions,
  type TrinoTDigestOptions,
} from '../internal/quantile-sketch';
import { toBase64 } from '../internal/trino-tdigest';
import { type QuantileOptions, quantileSketchCodec } from './quantiles';

/**
 * Options of {@link tdigest} and {@link digest}: those of the sketch (as for `quantiles`) and those of
 * the binary form written.
 */
export interface TDigestOptions extends QuantileOptions {
  /**
   * The sketch's own t-digest compression (δ): the accuracy of this library's quantiles and of the
   * centroids written. A number from 10 to 100,000; default 200 (about 500 centroids, rank error within
   * about 0.15%). Not the compression written in the digest: see `trinoCompression`.
   */
  readonly compression?: number;
  /**
   * Distinct values counted exactly before the sketch becomes a t-digest. An integer from 0 to
   * 1,048,576; default 1024.
   */
  readonly exactLimit?: number;
  /**
   * The compression written in the digest's header, which Trino and Athena use whenever they merge it
   * (airlift re-forms the merged clusters with its own scale function at that compression). A number
   * from 10 to 100,000; default 5000, which keeps merged quantiles within 1% of rank (measured within
   * 0.3% on a million values merged from 20, 24 and 2880 digests). Lower values make Trino's merge state
   * smaller (about 2,500 centroids at the default) and merged quantiles coarser: at 1000, merged SLA
   * hours already missed by 1.7% of rank (and by 21% at airlift's default, 100).
   */
  readonly trinoCompression?: number;
  /**
   * The most centroids written (16 bytes each, 21⅓ in base64). An integer from 16 to 1,048,576; default
   * 512, so a digest takes at most 8,229 bytes (10,972 characters of base64). A sketch with more is
   * written from a compressed copy.
   */
  readonly maxCentroids?: number;
}

/** Options of {@link digest}: the quantiles to read, and those of {@link tdigest}. */
export interface DigestOptions<Q extends DigestQuantiles> extends TDigestOptions {
  /**
   * The quantiles to read, each a probability from 0 to 1: named (`{ median: 0.5, p99: 0.99 }`, read
   * back under the same names) or listed (`[0.5, 0.99]`, read back in the same order).
   */
  readonly quantiles: Q;
}

/** The quantiles {@link digest} reads: probabilities by name, or a list of them. */
export type DigestQuantiles = Readonly<Record<string, number>> | readonly number[];

/** The result of {@link digest} for one window. */
export interface DigestResult<Q extends DigestQuantiles> {
  /** The finite values folded in. */
  readonly count: number;
  /**
   * The quantiles asked for, under their names (or at their positions); each `null` for an empty window.
   * Exact (nearest rank) while the window holds at most `exactLimit` distinct values, within 1% of rank
   * otherwise, as for `quantiles`.
   */
  readonly quantiles: { -readonly [K in keyof Q]: number | null };
  /**
   * Standard base64 of the window's t-digest in airlift's binary form, which Trino's and Athena's
   * `tdigest` type reads: see {@link tdigest}. `null` for an empty window.
   */
  readonly tdigest: string | null;
}

/** `tdigest/1`: the state of {@link tdigest} and {@link digest}, the sketch's `toJSON` state. */
const tdigestCodec = quantileSketchCodec('tdigest/1');

/** Checks every option once, when the aggregator is made, rather than in each window. */
function checkOptions(options: TDigestOptions): { sketch: QuantileOptions; trino: TrinoTDigestOptions } {
  const sketch: QuantileOptions = { compression: options.compression, exactLimit: options.exactLimit };
  new QuantileSketch(sketch);
  const trino = resolveTrinoTDigestOptions({
    compression: options.trinoCompression,
    maxCentroids: options.maxCentroids,
  });
  return { sketch, trino };
}

function base64Of(acc: QuantileSketch, trino: TrinoTDigestOptions): string | null {
  const bytes = acc.toTrinoTDigest(trino);
  return bytes === null ? null : toBase64(bytes);
}

/**
 * The t-digest of a numeric field, written as standard base64 of the binary form that airlift's
 * `io.airlift.stats.TDigest.serialize()` writes and Trino's `tdigest` type reads, so that Trino and
 * Athena (engine v3) can merge any set of windows and read quantiles of the union:
 *
 * ```text
 * SELECT value_at_quantile(merge(CAST(from_base64(sla_tdigest) AS tdigest)), 0.5) AS sla_median
 * FROM ticket_metrics WHERE dt = '2026-11-29'
 * ```
 *
 * The form (little-endian, 37 + 16·n bytes): the format byte 0; the doubles min, max, compression and
 * total weight; the int32 centroid count n; then the n centroid means, ascending, and the n weights.
 * Every number is finite, every weight a positive whole number, and the total is the window's count.
 * The result is `null` for a window without a finite value (non-finite values are ignored, as in
 * `quantiles`).
 *
 * The digest is deterministic: the same values in the same order give the same string. While the
 * window holds at most `exactLimit` distinct values it writes those values themselves as centroid
 * means, with their counts (a heavily repeated value as several centroids of that value, which airlift
 * reads as the value); past that, the sketch's t-digest centroids. It holds at most `maxCentroids`
 * centroids. Merged by Trino, quantiles stay within 1% of rank (with the default `trinoCompression`);
 * `QuantileSketch.fromTrinoTDigest` reads such digests back to merge them here.
 *
 * Its codec (`tdigest/1`) saves the sketch's `toJSON` state, as `quantiles` does. To also read
 * quantiles from the same sketch, use {@link digest}.
 *
 * @param value - reads the number to digest from an input
 * @param options - see {@link TDigestOptions}
 * @throws InvalidOptionError when an option is out of its domain (when the aggregator is made).
 * @see https://trino.io/docs/current/functions/tdigest.html (Trino's t-digest functions)
 * @see https://github.com/airlift/airlift/blob/master/stats/src/main/java/io/airlift/stats/TDigest.java
 *
 * @example
 * ```ts
 * const sla = tdigest((t: Ticket) => t.sla_hours);
 * const base64 = sla.result(fold(sla, [ticket, ticket]));
 * QuantileSketch.fromTrinoTDigest(base64!).quantile(0.5) // 4
 * sla.result(sla.init()) // null
 * ```
 */
export function tdigest<In>(
  value: (input: In) => number,
  options: TDigestOptions = {},
): Aggregator<In, QuantileSketch, string | null> {
  const { sketch, trino } = checkOptions(options);
  return {
    init: () => new QuantileSketch(sketch),
    add: (acc, input) => {
      acc.add(value(input));
      return acc;
    },
    merge: (a, b) => a.merge(b),
    result: (acc) => base64Of(acc, trino),
    codec: tdigestCodec,
  };
}

/**
 * Quantiles of a numeric field and its t-digest for Trino, from one shared sketch: one sketch per
 * window, updated once per input, instead of one for `quantiles` and another for {@link tdigest}. The
 * result holds the count, the quantiles asked for (as `quantiles` computes them) and the digest (as
 * {@link tdigest} writes it), all read from the same state.
 *
 * `quantiles` names each probability (`{ median: 0.5, p90: 0.9 }`, and the result's `quantiles` has
 * the same keys) or lists them (`[0.5, 0.9]`, read back as a tuple). Its codec is `tdigest/1`, that of
 * {@link tdigest}.
 *
 * @param value - reads the number from an input
 * @param options - the quantiles to read, and the options of {@link tdigest}
 * @throws InvalidOptionError when a probability is not a number from 0 to 1, or an option is out of its
 *   domain (when the aggregator is made).
 *
 * @example
 * ```ts
 * const sla = digest((t: Ticket) => t.sla_hours, { quantiles: { median: 0.5, p90: 0.9, p99: 0.99 } });
 * const spec = metrics({ total_tickets: count(), sla });
 * const { sla: { count: n, quantiles, tdigest } } = spec.result(fold(spec, [ticket, ticket, ticket]));
 * n // 3
 * quantiles // { median: 4, p90: 4, p99: 4 }
 * QuantileSketch.fromTrinoTDigest(tdigest!).count // 3
 * ```
 */
export function digest<In, const Q extends DigestQuantiles>(
  value: (input: In) => number,
  options: DigestOptions<Q>,
): Aggregator<In, QuantileSketch, DigestResult<Q>> {
  const { sketch, trino } = checkOptions(options);
  const named = options.quantiles;
  if (typeof named !== 'object' || named === null) {
    throw new InvalidOptionError('digest: quantiles must be an object of probabilities or an array of them');
  }
  const listed = Array.isArray(named);
  const keys = listed ? [] : Object.keys(named);
  const probabilities: number[] = listed
    ? [...named]
    : keys.map((key) => (named as Record<string, number>)[key]!);
  probabilities.forEach((q, i) => {
    if (!(typeof q === 'number' && q >= 0 && q <= 1)) {
      const where = listed ? `quantiles[${i}]` : `quantiles.${keys[i]}`;
      throw new InvalidOptionError(`digest: ${where} must be a probability from 0 to 1, got ${String(q)}`);
    }
  });
  return {
    init: () => new QuantileSketch(sketch),
    add: (acc, input) => {
      acc.add(value(input));
      return acc;
    },
    merge: (a, b) => a.merge(b),
    result: (acc) => {
      const values = acc.quantiles(probabilities);
      let quantiles: unknown = values;
      if (!listed) {
        const byName: Record<string, number | null> = {};
        keys.forEach((key, i) => {
          byName[key] = values[i] ?? null;
        });
        quantiles = byName;
      }
      return {
        count: acc.count,
        quantiles: quantiles as DigestResult<Q>['quantiles'],
        tdigest: base64Of(acc, trino),
      };
    },
    codec: tdigestCodec,
  };
}
