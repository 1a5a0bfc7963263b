import { InvalidOptionError } from '../errors';
import {
  decodeTrinoTDigest,
  encodeTrinoTDigest,
  fromBase64,
  MIN_TRINO_COMPRESSION,
  type TrinoTDigest,
} from './trino-tdigest';

/** Options of a {@link QuantileSketch}. */
export interface QuantileSketchOptions {
  /**
   * t-digest compression (δ): larger is more accurate and larger. A digest keeps about 2.5·δ to 3·δ
   * centroids (16 bytes each, twice over) and its rank error shrinks roughly as 1/δ. A number from 10 to
   * 100,000; default 200 (about 500 centroids, rank error within about 0.15%).
   */
  readonly compression?: number;
  /**
   * Distinct values kept exactly before switching to a t-digest. An integer from 0 (always a t-digest)
   * to 1,048,576; default 1024.
   */
  readonly exactLimit?: number;
}

/**
 * The state of a {@link QuantileSketch} as plain JSON-serializable data, from
 * {@link QuantileSketch.toJSON}. {@link QuantileSketch.fromJSON} rebuilds a sketch that behaves exactly
 * like the original, including what later adds and merges do. Equal states give equal objects.
 */
export interface QuantileSketchJSON {
  /** The format version; 1. */
  readonly version: 1;
  /** `exact`: a count per distinct value; `digest`: a t-digest. */
  readonly mode: 'exact' | 'digest';
  /** The compression (δ) the sketch was created with. */
  readonly compression: number;
  /** The exact limit the sketch was created with. */
  readonly exactLimit: number;
  /** Finite values added. */
  readonly count: number;
  /** The smallest value added; `null` when empty. */
  readonly min: number | null;
  /** The largest value added; `null` when empty. */
  readonly max: number | null;
  /** Exact mode: the distinct values, ascending. Digest mode: the centroid means, ascending. */
  readonly means: number[];
  /** Exact mode: how often each value occurred. Digest mode: the centroid weights (value counts). */
  readonly weights: number[];
  /** Digest mode: values added since the last compression, in arrival order. Empty in exact mode. */
  readonly buffer: number[];
}

/**
 * Options of {@link QuantileSketch.toTrinoTDigest}: the binary t-digest form of airlift's
 * `io.airlift.stats.TDigest`, which Trino's `tdigest` type reads.
 */
export interface TrinoTDigestOptions {
  /**
   * The compression written in the digest's header. The centroids written do not depend on it: it is
   * what airlift uses whenever it compresses the digest again, that is on every `merge(tdigest)` in
   * Trino or Athena, which re-forms clusters with airlift's own scale function (at twice this value
   * while merging, at this value for the result: a middle cluster may hold up to
   * `(4·ln(n/compression) + 24) / (4·compression)` of the `n` merged values). So it sets the accuracy
   * of merged digests, and the size of Trino's merge state (a few thousand centroids at the default).
   *
   * A number from 10 (airlift's minimum) to 100,000; default 5000, which keeps `value_at_quantile` of
   * merged digests within 1% of rank up to billions of values, also for a few heavily repeated values
   * (where a cluster that straddles two values costs up to 1.5 clusters of rank): measured within 0.3%
   * of rank on one to ten million values in 20, 24 and 2880 digests (see `tools/airlift-check`). At
   * airlift's own default, 100, merged SLA hours missed by up to 21% of rank; at 1000, by 1.7%.
   */
  readonly compression?: number;
  /**
   * The most centroids written: a sketch that would write more is compressed (a copy; the sketch is
   * unchanged) at a lower compression until it fits. Each centroid takes 16 bytes (21⅓ in base64). An
   * integer from 16 to 1,048,576; default 512 (at most 8,229 bytes, 10,972 in base64), which a sketch of
   * the default compression (200) rarely reaches.
   */
  readonly maxCentroids?: number;
}

const DEFAULT_COMPRESSION = 200;
/** See {@link TrinoTDigestOptions.compression}. */
export const DEFAULT_TRINO_COMPRESSION = 5000;
/** See {@link TrinoTDigestOptions.maxCentroids}. */
export const DEFAULT_MAX_CENTROIDS = 512;
const MIN_MAX_CENTROIDS = 16;
const MAX_MAX_CENTROIDS = 1_048_576;
// Each pass that does not fit `maxCentroids` compresses again at this fraction of the compression.
const REFIT_FACTOR = 0.85;
const DEFAULT_EXACT_LIMIT = 1024;
const MIN_COMPRESSION = 10;
const MAX_COMPRESSION = 100_000;
const MAX_EXACT_LIMIT = 1_048_576;
// A digest buffers incoming values and compresses them in sorted batches. Small digests use a small
// buffer (memory stays proportional to the data); large ones grow it to amortize the compression pass.
const MIN_BUFFER = 512;
const MAX_BUFFER = 8192;
const INITIAL_SLOTS = 8;
const SCAN_LIMIT = 8;
const INITIAL_CENTROIDS = 64;
// The k1 scale runs over SCALE_FACTOR·δ units rather than δ. With δ itself, the centroids in the middle
// hold π/δ of the values each (1.6% at δ = 200) and a digest fed one value at a time drifts up to 0.6% of
// rank; four times finer keeps every distribution tested within about 0.15% for ~500 centroids at δ = 200.
const SCALE_FACTOR = 4;
const EMPTY: Float64Array = new Float64Array(0);
const NO_CENTROIDS: Centroids = { means: EMPTY, weights: EMPTY, size: 0 };

/** Sorted, weighted points with the weight before each one: what quantile queries read. */
interface View {
  readonly means: Float64Array;
  readonly weights: Float64Array;
  /** `before[i]` is the total weight of points `0..i-1`. */
  readonly before: Float64Array;
  readonly length: number;
}

/** The centroids of a digest, ascending by mean; the arrays may be longer than `size`. */
interface Centroids {
  means: Float64Array;
  weights: Float64Array;
  size: number;
}

/**
 * A mergeable, deterministic sketch of a stream of numbers that answers quantile queries.
 *
 * While it holds at most `exactLimit` distinct values it keeps a count per value and answers exactly,
 * with the nearest-rank definition: `quantile(q)` is the smallest value `v` such that at least
 * `⌈q·n⌉` of the `n` values are `≤ v` (so the median of `[1, 4]` is `1`). Past that it becomes a merging
 * t-digest with the k1 (arcsine) scale function, after Dunning and Ertl's paper "Computing Extremely
 * Accurate Quantiles Using t-Digests", whose answers interpolate between centroids and are within 1% of
 * rank (about 0.15% at the default compression). `min` and `max` stay exact in both modes.
 *
 * Everything is a pure function of the values and the order they arrive in, including merges: no
 * randomness and no clock, so equal inputs give equal quantiles and byte-identical {@link toJSON}.
 * Queries never change the state. Non-finite values (`NaN`, `±Infinity`) and non-numbers are ignored
 * and not counted; `-0` counts as `0`.
 *
 * {@link toTrinoTDigest} writes the sketch in the binary t-digest form of airlift's `TDigest`, which
 * Trino's and Athena's `tdigest` type reads and merges; {@link fromTrinoTDigest} reads that form back.
 *
 * Costs: exact mode is one lookup per value; digest mode appends to a buffer that is sorted and
 * merged every 512 to 8192 values, tens of nanoseconds per value amortized. A digest holds about 2.5 to
 * 3 × `compression` centroids and a buffer of at most 64 KiB.
 *
 * @example
 * ```ts
 * const sketch = new QuantileSketch();
 * for (const hours of [1, 4, 24, 72, 4]) sketch.add(hours);
 * sketch.quantiles([0.5, 0.9]); // [4, 72]
 * ```
 */
export class QuantileSketch {
  readonly #compression: number;
  readonly #exactLimit: number;
  #count = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;
  #exact = true;
  // Exact mode: `#slots` maps a value to its slot in `#values`/`#counts`, in arrival order.
  #slots = new Map<number, number>();
  #values: Float64Array = new Float64Array(INITIAL_SLOTS);
  #counts: Float64Array = new Float64Array(INITIAL_SLOTS);
  #distinct = 0;
  #lastSlot = -1;
  // Digest mode: compressed centroids, a spare set to compress into, and the buffer of raw values.
  #centroids: Centroids = { means: EMPTY, weights: EMPTY, size: 0 };
  #spare: Centroids = { means: EMPTY, weights: EMPTY, size: 0 };
  #centroidWeight = 0;
  #buffer: Float64Array = EMPTY;
  #buffered = 0;
  // A cache of the sorted points queries read; any change to the state drops it.
  #view: View | null = null;

  /**
   * Creates an empty sketch.
   *
   * @throws InvalidOptionError when `compression` or `exactLimit` is out of its domain.
   */
  constructor(options: QuantileSketchOptions = {}) {
    const compression = options.compression ?? DEFAULT_COMPRESSION;
    const exactLimit = options.exactLimit ?? DEFAULT_EXACT_LIMIT;
    if (!(compression >= MIN_COMPRESSION && compression <= MAX_COMPRESSION)) {
      throw new InvalidOptionError(
        `compression must be a number from ${MIN_COMPRESSION} to ${MAX_COMPRESSION}, got ${compression}`,
      );
    }
    if (!(Number.isInteger(exactLimit) && exactLimit >= 0 && exactLimit <= MAX_EXACT_LIMIT)) {
      throw new InvalidOptionError(
        `exactLimit must be an integer from 0 to ${MAX_EXACT_LIMIT}, got ${exactLimit}`,
      );
    }
    this.#compression = compression;
    this.#exactLimit = exactLimit;
  }

  /** The number of values added (finite ones only), including those merged in. */
  get count(): number {
    return this.#count;
  }

  /** The smallest value added, exactly; `null` when the sketch is empty. */
  get min(): number | null {
    return this.#count === 0 ? null : this.#min;
  }

  /** The largest value added, exactly; `null` when the sketch is empty. */
  get max(): number | null {
    return this.#count === 0 ? null : this.#max;
  }

  /**
   * Adds one value. Non-finite values (`NaN`, `±Infinity`) and non-numbers are ignored: not counted and
   * not an error, so that one bad field never fails a batch.
   *
   * @returns `true` when the value was counted, `false` when it was ignored.
   */
  add(value: number): boolean {
    if (!Number.isFinite(value)) return false;
    // Adding 0 turns -0 into 0, so that the state never depends on which zero came first.
    const v = value + 0;
    this.#count++;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
    this.#view = null;
    if (this.#exact) {
      this.#addExact(v);
    } else {
      this.#buffer[this.#buffered++] = v;
      if (this.#buffered === this.#buffer.length) this.#flush();
    }
    return true;
  }

  /**
   * Folds `other` into this sketch, as if this sketch's values were followed by `other`'s; `other` is
   * unchanged (merging a sketch into itself doubles it). Two exact sketches stay exact while their
   * union has at most `exactLimit` distinct values, and then give exactly the quantiles of one sketch
   * of both inputs. This sketch keeps its own `compression` and `exactLimit`.
   *
   * @returns this sketch.
   */
  merge(other: QuantileSketch): this {
    if (other.#count === 0) return this;
    // `other` may be this sketch: each of its fields is read before this sketch writes to it, so merging
    // a sketch into itself needs no copy.
    this.#view = null;
    if (this.#exact && other.#exact && this.#unionFits(other)) {
      const values = other.#values;
      const counts = other.#counts;
      for (let slot = 0; slot < other.#distinct; slot++) this.#addExactCount(values[slot]!, counts[slot]!);
    } else {
      if (this.#exact) this.#toDigest();
      // The other sketch's points, sorted, as its queries read them; not cached on `other`.
      const incoming = other.#view ?? other.#buildView();
      const buffered = this.#buffered;
      const weight = this.#centroidWeight + buffered + other.#count;
      if (buffered === 0) {
        this.#compressInto(incoming.means, incoming.weights, incoming.length, other.#exact, weight);
      } else {
        sortAscending(this.#buffer, buffered);
        const { means, weights } = mergeSorted(
          this.#buffer,
          null,
          buffered,
          incoming.means,
          incoming.weights,
          incoming.length,
        );
        this.#compressInto(means, weights, means.length, other.#exact, weight);
        this.#buffered = 0;
      }
    }
    this.#count += other.#count;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
    return this;
  }

  /**
   * The `q`-quantile of the values added: exact (nearest rank) in exact mode; in digest mode
   * interpolated between centroids, within `[min, max]` and within 1% of rank. `quantile(0)` is always
   * the exact minimum and `quantile(1)` the exact maximum. Does not change the sketch.
   *
   * In exact mode the rank `⌈q·n⌉` is taken for the decimal `q` the caller wrote: a product `q·n` within
   * a few units of floating-point rounding of an integer counts as that integer (the 0.07-quantile of 100
   * values is the 7th, although `0.07 * 100` is `7.000000000000001` in floating point).
   *
   * @param q - the probability, from 0 to 1.
   * @returns the quantile, or `null` when the sketch is empty.
   * @throws RangeError when `q` is not a number from 0 to 1.
   */
  quantile(q: number): number | null {
    checkProbability(q);
    if (this.#count === 0) return null;
    return this.#quantileOf(this.#getView(), q);
  }

  /**
   * Several quantiles at once, in the order asked, sharing one sorted pass over the sketch. See
   * {@link quantile}. Does not change the sketch.
   *
   * @returns one quantile per probability; all `null` when the sketch is empty.
   * @throws RangeError when any probability is not a number from 0 to 1 (before computing any).
   */
  quantiles(qs: readonly number[]): (number | null)[] {
    qs.forEach(checkProbability);
    if (this.#count === 0) return qs.map(() => null);
    const view = this.#getView();
    return qs.map((q) => this.#quantileOf(view, q));
  }

  /** True while the sketch counts each distinct value exactly; false once it has become a t-digest. */
  isExact(): boolean {
    return this.#exact;
  }

  /**
   * The sketch's state as plain data, for checkpoints and for sending partial results between
   * processes. Exact mode lists each distinct value once, ascending, so equal multisets give equal
   * JSON whatever their order. The arrays are copies.
   */
  toJSON(): QuantileSketchJSON {
    const empty = this.#count === 0;
    const common = {
      version: 1 as const,
      compression: this.#compression,
      exactLimit: this.#exactLimit,
      count: this.#count,
      min: empty ? null : this.#min,
      max: empty ? null : this.#max,
    };
    if (this.#exact) {
      const view = this.#getView();
      return {
        ...common,
        mode: 'exact',
        means: Array.from(view.means),
        weights: Array.from(view.weights),
        buffer: [],
      };
    }
    const { means, weights, size } = this.#centroids;
    return {
      ...common,
      mode: 'digest',
      means: Array.from(means.subarray(0, size)),
      weights: Array.from(weights.subarray(0, size)),
      buffer: Array.from(this.#buffer.subarray(0, this.#buffered)),
    };
  }

  /**
   * Rebuilds a sketch from {@link toJSON}'s output (also after a `JSON.stringify`/`JSON.parse` round
   * trip). The result behaves exactly like the original.
   *
   * @throws RangeError when `json` is not a valid sketch state.
   * @throws InvalidOptionError when its `compression` or `exactLimit` is out of its domain.
   */
  static fromJSON(json: QuantileSketchJSON): QuantileSketch {
    const invalid = (reason: string): RangeError => new RangeError(`invalid quantile sketch JSON: ${reason}`);
    if (typeof json !== 'object' || json === null || json.version !== 1) throw invalid('expected version 1');
    if (typeof json.compression !== 'number' || typeof json.exactLimit !== 'number') {
      throw invalid('compression and exactLimit must be numbers');
    }
    const sketch = new QuantileSketch({ compression: json.compression, exactLimit: json.exactLimit });
    const { means, weights, buffer } = json;
    if (!Array.isArray(means) || !Array.isArray(weights) || !Array.isArray(buffer)) {
      throw invalid('means, weights and buffer must be arrays');
    }
    if (means.length !== weights.length) throw invalid('means and weights differ in length');
    let total = 0;
    for (let i = 0; i < means.length; i++) {
      const mean = means[i];
      const weight = weights[i];
      if (!isFiniteNumber(mean)) throw invalid('means must be finite numbers');
      if (!(Number.isSafeInteger(weight) && (weight as number) > 0)) {
        throw invalid('weights must be positive integers');
      }
      if (i > 0 && !(mean >= means[i - 1]!)) throw invalid('means must be ascending');
      total += weight as number;
    }
    if (!buffer.every(isFiniteNumber)) throw invalid('buffer values must be finite numbers');
    if (json.count !== total + buffer.length) throw invalid('count differs from the weights and buffer');
    if (json.count === 0) {
      if (json.mode !== 'exact' || json.min !== null || json.max !== null) throw invalid('bad empty sketch');
      return sketch;
    }
    const { min, max } = json;
    if (!isFiniteNumber(min) || !isFiniteNumber(max)) throw invalid('min and max must be finite numbers');
    const first = means.length > 0 ? (means[0] as number) : max;
    const last = means.length > 0 ? (means[means.length - 1] as number) : min;
    if (!(min <= first && last <= max && buffer.every((v) => v >= min && v <= max))) {
      throw invalid('values lie outside [min, max]');
    }
    sketch.#count = json.count;
    sketch.#min = min;
    sketch.#max = max;
    if (json.mode === 'exact') {
      if (buffer.length > 0) throw invalid('an exact sketch has no buffer');
      if (means.length > sketch.#exactLimit) throw invalid('more distinct values than exactLimit');
      if (means[0] !== min || means[means.length - 1] !== max)
        throw invalid('min and max differ from values');
      for (let i = 0; i < means.length; i++) {
        if (i > 0 && means[i] === means[i - 1]) throw invalid('exact values must be distinct');
        sketch.#addExactCount(means[i] as number, weights[i] as number);
      }
      return sketch;
    }
    if (json.mode !== 'digest')
      throw invalid(`unknown mode ${typeof json.mode === 'string' ? json.mode : typeof json.mode}`);
    const capacity = Math.max(INITIAL_CENTROIDS, means.length);
    sketch.#exact = false;
    sketch.#slots = new Map();
    sketch.#values = EMPTY;
    sketch.#counts = EMPTY;
    sketch.#centroids = { means: new Float64Array(capacity), weights: new Float64Array(capacity), size: 0 };
    sketch.#centroids.means.set(means as number[]);
    sketch.#centroids.weights.set(weights as number[]);
    sketch.#centroids.size = means.length;
    sketch.#spare = { means: new Float64Array(capacity), weights: new Float64Array(capacity), size: 0 };
    sketch.#centroidWeight = total;
    sketch.#buffer = new Float64Array(bufferCapacity(total));
    if (buffer.length >= sketch.#buffer.length) throw invalid('the buffer is longer than a digest keeps');
    sketch.#buffer.set(buffer as number[]);
    sketch.#buffered = buffer.length;
    return sketch;
  }

  /**
   * The sketch in the binary t-digest form that airlift's `io.airlift.stats.TDigest.serialize()` writes
   * and `TDigest.deserialize()` reads, which is the form of Trino's (and Athena engine v3's) `tdigest`
   * type: `CAST(from_base64(s) AS tdigest)` reads the base64 of it, and `merge`, `value_at_quantile` and
   * `values_at_quantiles` work on it.
   *
   * Layout (little-endian, 37 + 16·n bytes): the format byte 0; the doubles min, max, compression and
   * total weight; the int32 centroid count n; the n centroid means, ascending; the n weights. Every
   * number is finite, every weight a positive whole number, and the total is the count of values.
   *
   * What is written is a pure function of the sketch's state: the same values in the same order give
   * the same bytes. An exact sketch writes centroids whose means are its values themselves: one per
   * distinct value with its count, except that a value holding more ranks than one centroid may cover
   * (on the sketch's t-digest scale) is written as several centroids of that same value. airlift reads a
   * run of centroids of one value as that value, where it would interpolate across one heavy centroid;
   * and as it never splits a centroid when it merges, that keeps merged digests of few distinct values
   * (such as SLA hours) within tolerance. A t-digest writes its centroids, its buffered values folded
   * in. Either way, when that makes more than `maxCentroids` centroids, a copy is compressed at a lower
   * compression until it fits.
   *
   * @returns the bytes, or `null` when the sketch is empty (the form has no finite min and max for it).
   * @throws InvalidOptionError when `compression` or `maxCentroids` is out of its domain.
   * @see https://trino.io/docs/current/functions/tdigest.html (Trino's t-digest functions)
   * @see https://github.com/airlift/airlift/blob/master/stats/src/main/java/io/airlift/stats/TDigest.java
   *
   * @example
   * ```ts
   * const sketch = new QuantileSketch();
   * for (const hours of [4, 8, 8, 24]) sketch.add(hours);
   * const bytes = sketch.toTrinoTDigest();
   * bytes?.length // 101
   * QuantileSketch.fromTrinoTDigest(bytes!).quantile(0.5) // 8
   * ```
   */
  toTrinoTDigest(options: TrinoTDigestOptions = {}): Uint8Array | null {
    const { compression, maxCentroids } = resolveTrinoTDigestOptions(options);
    if (this.#count === 0) return null;
    const out = this.#trinoCentroids(maxCentroids);
    const digest: TrinoTDigest = {
      min: this.#min,
      max: this.#max,
      compression,
      totalWeight: this.#count,
      means: out.means,
      weights: out.weights,
    };
    return encodeTrinoTDigest(digest, out.size);
  }

  /**
   * Reads a t-digest in airlift's binary form (see {@link toTrinoTDigest}), as Trino writes it for
   * `CAST(tdigest AS varbinary)` or this library for {@link toTrinoTDigest}, so that digests read back
   * from files or query results can be merged and queried here. The sketch holds the digest's centroids
   * as its own t-digest (or, when every centroid has weight 1 and there are at most `exactLimit`
   * distinct means, counts those values exactly); its `count`, `min` and `max` are the digest's. The
   * digest's header compression is not kept: `options` set the sketch's own, as for a new sketch.
   *
   * @param data - the bytes, or their standard base64 (as in an `sla_tdigest` field).
   * @throws RangeError when `data` is not such a digest: wrong format byte or length, invalid base64, a
   *   non-finite number, `compression < 10`, a weight that is not a positive whole number (Trino's
   *   `tdigest_agg(x, w)` with fractional weights), or a total weight that is not their sum. airlift's
   *   empty digest (no centroids) gives an empty sketch.
   * @throws InvalidOptionError when `options` are out of their domain.
   *
   * @example
   * ```ts
   * const hourly = ['4', '8', '24'].map((h) => {
   *   const sketch = new QuantileSketch();
   *   sketch.add(Number(h));
   *   return Buffer.from(sketch.toTrinoTDigest()!).toString('base64');
   * });
   * const day = new QuantileSketch();
   * for (const base64 of hourly) day.merge(QuantileSketch.fromTrinoTDigest(base64));
   * day.quantiles([0, 0.5, 1]); // [4, 8, 24]
   * ```
   */
  static fromTrinoTDigest(data: Uint8Array | string, options: QuantileSketchOptions = {}): QuantileSketch {
    const sketch = new QuantileSketch(options);
    const digest = decodeTrinoTDigest(typeof data === 'string' ? fromBase64(data) : data);
    const { means, weights } = digest;
    const size = means.length;
    if (size === 0) return sketch;
    sketch.#count = digest.totalWeight;
    sketch.#min = digest.min;
    sketch.#max = digest.max;
    const singles =
      weights.every((w) => w === 1) && means[0] === digest.min && means[size - 1] === digest.max;
    if (singles && distinctCount(means) <= sketch.#exactLimit) {
      for (let i = 0; i < size; i++) sketch.#addExactCount(means[i]!, 1);
      return sketch;
    }
    const capacity = Math.max(INITIAL_CENTROIDS, size);
    sketch.#exact = false;
    sketch.#slots = new Map();
    sketch.#values = EMPTY;
    sketch.#counts = EMPTY;
    sketch.#centroids = { means: grow(means, capacity), weights: grow(weights, capacity), size };
    sketch.#spare = { means: new Float64Array(capacity), weights: new Float64Array(capacity), size: 0 };
    sketch.#centroidWeight = digest.totalWeight;
    sketch.#buffer = new Float64Array(bufferCapacity(digest.totalWeight));
    return sketch;
  }

  /**
   * The centroids {@link toTrinoTDigest} writes: see there. Each pass that makes more than
   * `maxCentroids` is done again at 0.85 times the compression.
   */
  #trinoCentroids(maxCentroids: number): Centroids {
    const out: Centroids = {
      means: new Float64Array(INITIAL_CENTROIDS),
      weights: new Float64Array(INITIAL_CENTROIDS),
      size: 0,
    };
    const total = this.#count;
    let compression = this.#compression;
    if (this.#exact) {
      const view = this.#getView();
      // Distinct values are kept apart while they fit: at a low enough compression, each is one centroid.
      if (view.length <= maxCentroids) {
        for (;;) {
          splitExact(view.means, view.weights, view.length, total, compression, out);
          if (out.size <= maxCentroids) return out;
          compression *= REFIT_FACTOR;
        }
      }
      do {
        compress(NO_CENTROIDS, view.means, view.weights, view.length, true, total, compression, out);
        compression *= REFIT_FACTOR;
      } while (out.size > maxCentroids);
      return out;
    }
    const buffered = this.#buffered;
    const sorted = this.#buffer.slice(0, buffered);
    sortAscending(sorted, buffered);
    do {
      compress(this.#centroids, sorted, null, buffered, true, total, compression, out);
      compression *= REFIT_FACTOR;
    } while (out.size > maxCentroids);
    return out;
  }

  #addExact(v: number): void {
    const values = this.#values;
    let slot = this.#lastSlot;
    // Runs of one value are common (a batch sorted by a field, a constant field): skip the lookup. A few
    // distinct values (an enum-like field) are found faster by scanning than by hashing.
    if (values[slot] !== v) {
      const distinct = this.#distinct;
      if (distinct <= SCAN_LIMIT) {
        slot = 0;
        while (slot < distinct && values[slot] !== v) slot++;
        if (slot === distinct) {
          this.#addNewExact(v);
          return;
        }
      } else {
        const found = this.#slots.get(v);
        if (found === undefined) {
          this.#addNewExact(v);
          return;
        }
        slot = found;
      }
      this.#lastSlot = slot;
    }
    this.#counts[slot]! += 1;
  }

  #addNewExact(v: number): void {
    if (this.#distinct === this.#exactLimit) {
      this.#toDigest();
      this.#buffer[this.#buffered++] = v;
      if (this.#buffered === this.#buffer.length) this.#flush();
      return;
    }
    this.#addExactCount(v, 1);
  }

  /** Adds `count` occurrences of `v` in exact mode; the caller has checked that a new value fits. */
  #addExactCount(v: number, count: number): void {
    const found = this.#slots.get(v);
    if (found !== undefined) {
      this.#counts[found]! += count;
      return;
    }
    const slot = this.#distinct++;
    if (slot === this.#values.length) {
      const size = Math.min(slot * 2, Math.max(this.#exactLimit, INITIAL_SLOTS));
      this.#values = grow(this.#values, size);
      this.#counts = grow(this.#counts, size);
    }
    this.#values[slot] = v;
    this.#counts[slot] = count;
    this.#slots.set(v, slot);
    this.#lastSlot = slot;
  }

  /** True when the union of this exact sketch's values and `source`'s fits within `exactLimit`. */
  #unionFits(source: QuantileSketch): boolean {
    let distinct = this.#distinct;
    const values = source.#values;
    for (let slot = 0; slot < source.#distinct; slot++) {
      if (!this.#slots.has(values[slot]!) && ++distinct > this.#exactLimit) return false;
    }
    return true;
  }

  /** Turns the exact counts into a t-digest of the same values. */
  #toDigest(): void {
    const view = this.#getView();
    const capacity = INITIAL_CENTROIDS;
    let weight = 0;
    for (let i = 0; i < view.length; i++) weight += view.weights[i]!;
    this.#exact = false;
    this.#centroids = { means: new Float64Array(capacity), weights: new Float64Array(capacity), size: 0 };
    this.#spare = { means: new Float64Array(capacity), weights: new Float64Array(capacity), size: 0 };
    this.#centroidWeight = 0;
    this.#compressInto(view.means, view.weights, view.length, true, weight);
    this.#slots = new Map();
    this.#values = EMPTY;
    this.#counts = EMPTY;
    this.#distinct = 0;
    this.#lastSlot = -1;
    this.#view = null;
  }

  /** Compresses the buffer into the centroids. */
  #flush(): void {
    const buffered = this.#buffered;
    sortAscending(this.#buffer, buffered);
    this.#compressInto(this.#buffer, null, buffered, true, this.#centroidWeight + buffered);
    this.#buffered = 0;
  }

  /**
   * Merges the centroids with sorted points (`weights` null: weight 1 each; `points`: each point is
   * `weight` copies of one value) into new centroids of total weight `weight`, and resizes the buffer
   * for that weight. The buffer must be empty afterwards.
   */
  #compressInto(
    means: Float64Array,
    weights: Float64Array | null,
    length: number,
    points: boolean,
    weight: number,
  ): void {
    const out = this.#spare;
    compress(this.#centroids, means, weights, length, points, weight, this.#compression, out);
    this.#spare = this.#centroids;
    this.#centroids = out;
    this.#centroidWeight = weight;
    const capacity = bufferCapacity(weight);
    if (this.#buffer.length !== capacity) this.#buffer = new Float64Array(capacity);
  }

  /** The sorted points of the sketch, cached until the next change. */
  #getView(): View {
    this.#view ??= this.#buildView();
    return this.#view;
  }

  #buildView(): View {
    let means: Float64Array;
    let weights: Float64Array;
    if (this.#exact) {
      const distinct = this.#distinct;
      means = this.#values.slice(0, distinct);
      sortAscending(means, distinct);
      weights = new Float64Array(distinct);
      for (let i = 0; i < distinct; i++) weights[i] = this.#counts[this.#slots.get(means[i]!)!]!;
    } else {
      // The buffer is sorted in a copy: sorting it in place would be invisible to quantiles, but not to
      // toJSON, and queries must not change what toJSON returns.
      const buffered = this.#buffered;
      const sorted = this.#buffer.slice(0, buffered);
      sortAscending(sorted, buffered);
      const { means: cm, weights: cw, size } = this.#centroids;
      ({ means, weights } = mergeSorted(cm, cw, size, sorted, null, buffered));
    }
    const before = new Float64Array(means.length);
    let total = 0;
    for (let i = 0; i < means.length; i++) {
      before[i] = total;
      total += weights[i]!;
    }
    return { means, weights, before, length: means.length };
  }

  #quantileOf(view: View, q: number): number {
    if (q === 0) return this.#min;
    if (q === 1) return this.#max;
    if (this.#exact) {
      const rank = nearestRank(q, this.#count);
      // The first value whose cumulative count reaches the rank.
      const { before, weights } = view;
      let lo = 0;
      let hi = view.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (before[mid]! + weights[mid]! >= rank) hi = mid;
        else lo = mid + 1;
      }
      return view.means[lo]!;
    }
    const estimate = interpolate(view, q * this.#count, this.#count, this.#min, this.#max);
    return Math.min(this.#max, Math.max(this.#min, estimate));
  }
}

function checkProbability(q: number): void {
  if (!(typeof q === 'number' && q >= 0 && q <= 1)) {
    throw new RangeError(`a quantile's probability must be a number from 0 to 1, got ${String(q)}`);
  }
}

/**
 * {@link TrinoTDigestOptions} with their defaults filled in.
 *
 * @throws InvalidOptionError when an option is out of its domain.
 */
export function resolveTrinoTDigestOptions(options: TrinoTDigestOptions): Required<TrinoTDigestOptions> {
  const compression = options.compression ?? DEFAULT_TRINO_COMPRESSION;
  const maxCentroids = options.maxCentroids ?? DEFAULT_MAX_CENTROIDS;
  if (!(compression >= MIN_TRINO_COMPRESSION && compression <= MAX_COMPRESSION)) {
    throw new InvalidOptionError(
      `the Trino tdigest compression must be a number from ${MIN_TRINO_COMPRESSION} to ${MAX_COMPRESSION}, got ${compression}`,
    );
  }
  if (
    !(
      Number.isInteger(maxCentroids) &&
      maxCentroids >= MIN_MAX_CENTROIDS &&
      maxCentroids <= MAX_MAX_CENTROIDS
    )
  ) {
    throw new InvalidOptionError(
      `maxCentroids must be an integer from ${MIN_MAX_CENTROIDS} to ${MAX_MAX_CENTROIDS}, got ${maxCentroids}`,
    );
  }
  return { compression, maxCentroids };
}

/** The number of distinct values in an ascending array. */
function distinctCount(sorted: Float64Array): number {
  let distinct = sorted.length > 0 ? 1 : 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1]) distinct++;
  return distinct;
}

function isFiniteNumber(value: unknown): value is number {
  return Number.isFinite(value);
}

/** The nearest rank `⌈q·n⌉` in `[1, n]`, reading `q·n` within rounding of an integer as that integer. */
function nearestRank(q: number, n: number): number {
  const product = q * n;
  const nearest = Math.round(product);
  const rank = Math.abs(product - nearest) <= product * 4 * Number.EPSILON ? nearest : Math.ceil(product);
  return Math.min(n, Math.max(1, rank));
}

/**
 * The value at fractional rank `index` (0 to `total`) of a digest, interpolating between centroid
 * means. A centroid's weight is spread evenly around its mean; a centroid of weight 1 is a single known
 * value and returned as is; the extreme centroids interpolate towards the exact min and max.
 */
function interpolate(view: View, index: number, total: number, min: number, max: number): number {
  const { means, weights, before, length } = view;
  // The smallest value takes ranks [0, 1) and the largest [n - 1, n]; a centroid of weight w > 2 at an
  // end spreads its other values between its mean and that extreme.
  if (index < 1) return min;
  if (index >= total - 1) return max;
  const firstWeight = weights[0]!;
  if (index < firstWeight / 2) return between(min, means[0]!, (index - 1) / (firstWeight / 2 - 1));
  const lastWeight = weights[length - 1]!;
  if (total - index <= lastWeight / 2) {
    return between(max, means[length - 1]!, (total - index - 1) / (lastWeight / 2 - 1));
  }
  // The last centroid whose middle is at or before `index`; the next one's middle is past it.
  let lo = 0;
  let hi = length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (before[mid]! + weights[mid]! / 2 <= index) lo = mid;
    else hi = mid - 1;
  }
  const left = weights[lo]!;
  const right = weights[lo + 1]!;
  const gap = (left + right) / 2;
  const offset = index - (before[lo]! + left / 2);
  let leftUnit = 0;
  if (left === 1) {
    if (offset < 0.5) return means[lo]!;
    leftUnit = 0.5;
  }
  let rightUnit = 0;
  if (right === 1) {
    if (gap - offset <= 0.5) return means[lo + 1]!;
    rightUnit = 0.5;
  }
  const toLeft = offset - leftUnit;
  const a = means[lo]!;
  const b = means[lo + 1]!;
  return Math.min(b, Math.max(a, between(a, b, toLeft / (gap - leftUnit - rightUnit))));
}

/** The point a fraction `t` of the way from `a` to `b`, computed so that it cannot overflow. */
function between(a: number, b: number, t: number): number {
  return a * (1 - t) + b * t;
}

/**
 * Merges centroids `a` with sorted points `b` (`bWeights` null: weight 1 each), of total weight
 * `total`, into `out`: consecutive points join a centroid while its quantile span stays within one unit
 * of the k1 scale `k(q) = SCALE_FACTOR·δ/(2π)·asin(2q−1)`, so centroids are small at the tails and large
 * in the middle. On equal means, `a`'s points come first.
 *
 * With `bPoints`, each point of `b` is `weight` copies of one value (exact counts), which may be split
 * across centroids: a value holding most of the data then becomes many full centroids with that mean,
 * which interpolation reads as the value itself, rather than one huge centroid read as a spread.
 */
function compress(
  a: Centroids,
  bMeans: Float64Array,
  bWeights: Float64Array | null,
  bLength: number,
  bPoints: boolean,
  total: number,
  compression: number,
  out: Centroids,
): void {
  const aMeans = a.means;
  const aWeights = a.weights;
  const aLength = a.size;
  const step = (2 * Math.PI) / (SCALE_FACTOR * compression);
  out.size = 0;
  let i = 0;
  let j = 0;
  // The centroid being built: its first mean (`anchor`), last mean, weight and the weighted sum of
  // means relative to the anchor, which stays precise when the values are large and close together.
  let anchor = 0;
  let last = 0;
  let weight = 0;
  let sum = 0;
  let done = 0;
  let limit = total * quantileLimit(0, step);
  while (i < aLength || j < bLength) {
    let mean: number;
    let w: number;
    let point = false;
    if (j >= bLength || (i < aLength && aMeans[i]! <= bMeans[j]!)) {
      mean = aMeans[i]!;
      w = aWeights[i]!;
      i++;
    } else {
      mean = bMeans[j]!;
      w = bWeights === null ? 1 : bWeights[j]!;
      point = bPoints;
      j++;
    }
    if (weight > 0 && done + weight + w <= limit) {
      weight += w;
      sum += (mean - anchor) * w;
      last = mean;
      continue;
    }
    if (weight > 0) {
      const room = point ? Math.floor(limit - done - weight) : 0;
      if (room >= 1) {
        weight += room;
        sum += (mean - anchor) * room;
        last = mean;
        w -= room;
      }
      emit(out, centroidMean(anchor, last, sum, weight), weight);
      done += weight;
      limit = total * quantileLimit(done / total, step);
    }
    if (point) {
      for (let room = Math.max(1, Math.floor(limit - done)); w > room; ) {
        emit(out, mean, room);
        done += room;
        w -= room;
        limit = total * quantileLimit(done / total, step);
        room = Math.max(1, Math.floor(limit - done));
      }
    }
    anchor = mean;
    last = mean;
    weight = w;
    sum = 0;
  }
  if (weight > 0) emit(out, centroidMean(anchor, last, sum, weight), weight);
}

/**
 * Writes exact counts (ascending distinct values and their counts, of total weight `total`) as
 * centroids into `out`: one per value, except that a count larger than the room the k1 scale leaves at
 * its rank (see {@link compress}) is split into several centroids of that value. Distinct values are
 * never mixed.
 */
function splitExact(
  means: Float64Array,
  weights: Float64Array,
  length: number,
  total: number,
  compression: number,
  out: Centroids,
): void {
  const step = (2 * Math.PI) / (SCALE_FACTOR * compression);
  out.size = 0;
  let done = 0;
  for (let i = 0; i < length; i++) {
    const mean = means[i]!;
    let w = weights[i]!;
    while (w > 0) {
      const room = Math.max(1, Math.floor(total * quantileLimit(done / total, step) - done));
      const piece = Math.min(w, room);
      emit(out, mean, piece);
      done += piece;
      w -= piece;
    }
  }
}

function emit(out: Centroids, mean: number, weight: number): void {
  if (out.size === out.means.length) {
    out.means = grow(out.means, Math.max(INITIAL_CENTROIDS, out.size * 2));
    out.weights = grow(out.weights, out.means.length);
  }
  out.means[out.size] = mean;
  out.weights[out.size] = weight;
  out.size++;
}

/** The mean of a centroid from its first and last means and the weighted sum of offsets from the first. */
function centroidMean(anchor: number, last: number, sum: number, weight: number): number {
  const mean = anchor + sum / weight;
  if (mean <= last) return mean;
  // Rounding can step past the last value; offsets between values near ±1.8e308 can overflow to infinity.
  return sum === Number.POSITIVE_INFINITY ? anchor / 2 + last / 2 : last;
}

/** `k⁻¹(k(q) + 1)` for the k1 scale function: the largest quantile a centroid starting at `q` may reach. */
function quantileLimit(q: number, step: number): number {
  const angle = Math.asin(Math.min(1, 2 * q - 1)) + step;
  return angle >= Math.PI / 2 ? 1 : (Math.sin(angle) + 1) / 2;
}

/** Merges two sorted weighted lists (null weights: weight 1 each); on equal means `a`'s come first. */
function mergeSorted(
  aMeans: Float64Array,
  aWeights: Float64Array | null,
  aLength: number,
  bMeans: Float64Array,
  bWeights: Float64Array | null,
  bLength: number,
): { means: Float64Array; weights: Float64Array } {
  const means = new Float64Array(aLength + bLength);
  const weights = new Float64Array(aLength + bLength);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < aLength || j < bLength) {
    if (j >= bLength || (i < aLength && aMeans[i]! <= bMeans[j]!)) {
      means[k] = aMeans[i]!;
      weights[k] = aWeights === null ? 1 : aWeights[i]!;
      i++;
    } else {
      means[k] = bMeans[j]!;
      weights[k] = bWeights === null ? 1 : bWeights[j]!;
      j++;
    }
    k++;
  }
  return { means, weights };
}

/** The buffer size of a digest whose centroids weigh `weight`: about an eighth of it, in bounds. */
function bufferCapacity(weight: number): number {
  let capacity = MIN_BUFFER;
  while (capacity < MAX_BUFFER && capacity * 8 <= weight) capacity *= 2;
  return capacity;
}

function grow(array: Float64Array, size: number): Float64Array {
  const grown = new Float64Array(size);
  grown.set(array.subarray(0, Math.min(array.length, size)));
  return grown;
}

// Sorting. Buffers hold finite numbers with no -0, so equal numbers are identical and every correct sort
// gives the same bytes. The built-in typed array sort costs about 100 ns per value; a bucket sort on the
// values' range costs about half of that, and already sorted runs (timestamps) cost one pass.

const INSERTION_MAX = 24;
const MAX_DEPTH = 8;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HIGH_WORD = LITTLE_ENDIAN ? 1 : 0;
let scratch = EMPTY;
let bucketOf = new Uint32Array(0);
const bucketCounts: Uint32Array[] = [];

/** Sorts `array[0..length)` ascending in place. */
function sortAscending(array: Float64Array, length: number): void {
  if (length < 2) return;
  let i = 1;
  while (i < length && array[i - 1]! <= array[i]!) i++;
  if (i === length) return;
  i = 1;
  while (i < length && array[i - 1]! >= array[i]!) i++;
  if (i === length) {
    array.subarray(0, length).reverse();
    return;
  }
  if (scratch.length < length) {
    scratch = new Float64Array(Math.max(length, MAX_BUFFER));
    bucketOf = new Uint32Array(scratch.length);
  }
  bucketSort(array, 0, length, 0);
}

/**
 * Sorts `array[lo..hi)`: spreads the values over about `n/2` buckets by their position between min and
 * max, recurses into crowded buckets and finishes with one insertion sort. When one bucket would hold
 * most values (a heavy tail), buckets follow the values' binary exponent and leading mantissa bits
 * instead, which is close to a logarithmic scale.
 */
function bucketSort(array: Float64Array, lo: number, hi: number, depth: number): void {
  const n = hi - lo;
  if (n <= INSERTION_MAX) {
    insertionSort(array, lo, hi);
    return;
  }
  let min = array[lo]!;
  let max = min;
  for (let k = lo + 1; k < hi; k++) {
    const v = array[k]!;
    if (v < min) min = v;
    else if (v > max) max = v;
  }
  if (min === max) return;
  if (depth === MAX_DEPTH) {
    array.subarray(lo, hi).sort();
    return;
  }
  const buckets = n >>> 1;
  let counts = bucketCounts[depth];
  if (counts === undefined || counts.length <= buckets) {
    counts = new Uint32Array(Math.max(buckets + 1, MAX_BUFFER));
    bucketCounts[depth] = counts;
  }
  const top = buckets - 1;
  const scale = buckets / (max - min);
  const linear = scale > 0 && scale < Number.POSITIVE_INFINITY;
  if (linear) {
    counts.fill(0, 0, buckets + 1);
    for (let k = lo; k < hi; k++) {
      let b = Math.floor((array[k]! - min) * scale);
      if (b > top) b = top;
      bucketOf[k] = b;
      counts[b + 1]!++;
    }
  }
  if (!linear || largest(counts, buckets) > n / 2) {
    const low = orderedHighWord(min);
    const high = orderedHighWord(max);
    if (high > low) {
      const words = new Uint32Array(array.buffer, array.byteOffset, array.length * 2);
      const keyScale = buckets / (high - low + 1);
      counts.fill(0, 0, buckets + 1);
      for (let k = lo; k < hi; k++) {
        const word = words[2 * k + HIGH_WORD]!;
        const key = (word & 0x80000000 ? ~word : word | 0x80000000) >>> 0;
        const b = Math.floor((key - low) * keyScale);
        bucketOf[k] = b;
        counts[b + 1]!++;
      }
    } else if (!linear) {
      array.subarray(lo, hi).sort();
      return;
    }
  }
  for (let b = 1; b <= buckets; b++) counts[b]! += counts[b - 1]!;
  for (let k = lo; k < hi; k++) scratch[lo + counts[bucketOf[k]!]!++] = array[k]!;
  array.set(scratch.subarray(lo, hi), lo);
  let start = lo;
  for (let b = 0; b < buckets; b++) {
    const end = lo + counts[b]!;
    if (end - start > INSERTION_MAX) bucketSort(array, start, end, depth + 1);
    start = end;
  }
  insertionSort(array, lo, hi);
}

function largest(counts: Uint32Array, buckets: number): number {
  let most = 0;
  for (let b = 1; b <= buckets; b++) if (counts[b]! > most) most = counts[b]!;
  return most;
}

const bits = new Float64Array(1);
const bitWords = new Uint32Array(bits.buffer);

/** The high 32 bits of a double (sign, exponent, leading mantissa), as an unsigned key in numeric order. */
function orderedHighWord(value: number): number {
  bits[0] = value;
  const word = bitWords[HIGH_WORD]!;
  return (word & 0x80000000 ? ~word : word | 0x80000000) >>> 0;
}

function insertionSort(array: Float64Array, lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const v = array[i]!;
    let j = i - 1;
    while (j >= lo && array[j]! > v) {
      array[j + 1] = array[j]!;
      j--;
    }
    array[j + 1] = v;
  }
}
