/**
 * The binary form of a t-digest that airlift's `io.airlift.stats.TDigest.serialize()` writes and
 * `TDigest.deserialize(Slice)` reads: the form of Trino's `tdigest` type (`CAST(varbinary AS tdigest)`,
 * `CAST(tdigest AS varbinary)`), and so of Athena engine v3's.
 *
 * Layout, all little-endian (airlift's `Slice` byte order), 37 + 16·n bytes:
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 1 | format, always 0 |
 * | 1 | 8 | min, a double |
 * | 9 | 8 | max |
 * | 17 | 8 | compression: what airlift's merges use (`merge(compression)` on serialize, twice it on `mergeWith`) |
 * | 25 | 8 | total weight: the sum of the weights |
 * | 33 | 4 | n, the centroid count, an int32 |
 * | 37 | 8·n | the centroid means, ascending |
 * | 37 + 8·n | 8·n | the centroid weights, in the same order |
 *
 * airlift's reader itself checks only the format byte and `compression >= 10`; it assumes the rest
 * (its quantile interpolation walks the centroids in order, and uses the total weight as the rank
 * scale). The writer here therefore writes only finite numbers, ascending means within `[min, max]`,
 * positive weights and the exact total; the reader refuses anything else, except that it sorts means
 * that a writer left out of order by rounding.
 */

/** A t-digest as the binary form holds it. */
export interface TrinoTDigest {
  /** The smallest value; `+Infinity` for airlift's empty digest. */
  readonly min: number;
  /** The largest value; `-Infinity` for airlift's empty digest. */
  readonly max: number;
  /** The compression airlift uses when it merges or re-serializes the digest. */
  readonly compression: number;
  /** The sum of the weights. */
  readonly totalWeight: number;
  /** The centroid means, ascending. */
  readonly means: Float64Array;
  /** The centroid weights (value counts), in the order of `means`. */
  readonly weights: Float64Array;
}

/** The format byte of airlift's t-digest serialization. */
export const TRINO_TDIGEST_FORMAT = 0;
/** The bytes before the centroids: format, min, max, compression, total weight, centroid count. */
export const TRINO_TDIGEST_HEADER_BYTES = 37;
/** The smallest compression airlift accepts (`TDigest` checks `compression >= 10`). */
export const MIN_TRINO_COMPRESSION = 10;

/**
 * Writes the binary form. The caller passes a valid digest (see the module's documentation): this
 * function only lays out bytes.
 */
export function encodeTrinoTDigest(digest: TrinoTDigest, size = digest.means.length): Uint8Array {
  const bytes = new Uint8Array(TRINO_TDIGEST_HEADER_BYTES + 16 * size);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, TRINO_TDIGEST_FORMAT);
  view.setFloat64(1, digest.min, true);
  view.setFloat64(9, digest.max, true);
  view.setFloat64(17, digest.compression, true);
  view.setFloat64(25, digest.totalWeight, true);
  view.setInt32(33, size, true);
  let offset = TRINO_TDIGEST_HEADER_BYTES;
  for (let i = 0; i < size; i++, offset += 8) view.setFloat64(offset, digest.means[i]!, true);
  for (let i = 0; i < size; i++, offset += 8) view.setFloat64(offset, digest.weights[i]!, true);
  return bytes;
}

/**
 * Reads the binary form, checking what airlift's own reader assumes. Means a writer left out of order
 * (airlift computes each centroid's mean incrementally, so rounding can put two adjacent means one unit
 * in the last place out of order) are sorted, with their weights; means outside `[min, max]` by such
 * rounding are moved onto the bound.
 *
 * @throws RangeError when `bytes` is not such a digest: wrong format byte or length, a non-finite
 *   number, `compression < 10`, a weight that is not a positive whole number, a total that is not the
 *   sum of the weights, or `min > max`. airlift's empty digest (no centroids, total 0, min `+Infinity`
 *   and max `-Infinity`) is accepted.
 */
export function decodeTrinoTDigest(bytes: Uint8Array): TrinoTDigest {
  const invalid = (reason: string): RangeError => new RangeError(`invalid Trino tdigest: ${reason}`);
  if (bytes.length < TRINO_TDIGEST_HEADER_BYTES) {
    throw invalid(`${bytes.length} bytes, shorter than the ${TRINO_TDIGEST_HEADER_BYTES}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = view.getUint8(0);
  if (format !== TRINO_TDIGEST_FORMAT)
    throw invalid(`format byte ${format}, expected ${TRINO_TDIGEST_FORMAT}`);
  const min = view.getFloat64(1, true);
  const max = view.getFloat64(9, true);
  const compression = view.getFloat64(17, true);
  const totalWeight = view.getFloat64(25, true);
  const size = view.getInt32(33, true);
  if (!(size >= 0 && bytes.length === TRINO_TDIGEST_HEADER_BYTES + 16 * size)) {
    throw invalid(
      `${bytes.length} bytes for ${size} centroids, expected ${TRINO_TDIGEST_HEADER_BYTES} + 16·n`,
    );
  }
  if (!(Number.isFinite(compression) && compression >= MIN_TRINO_COMPRESSION)) {
    throw invalid(
      `compression ${compression}, expected a finite number of at least ${MIN_TRINO_COMPRESSION}`,
    );
  }
  if (size === 0) {
    if (totalWeight !== 0) throw invalid(`total weight ${totalWeight} without centroids`);
    return { min, max, compression, totalWeight, means: new Float64Array(0), weights: new Float64Array(0) };
  }
  if (!(Number.isFinite(min) && Number.isFinite(max) && min <= max)) {
    throw invalid(`min ${min} and max ${max}, expected finite numbers with min <= max`);
  }
  const means = new Float64Array(size);
  const weights = new Float64Array(size);
  let sum = 0;
  let sorted = true;
  for (let i = 0; i < size; i++) {
    const mean = view.getFloat64(TRINO_TDIGEST_HEADER_BYTES + 8 * i, true);
    const weight = view.getFloat64(TRINO_TDIGEST_HEADER_BYTES + 8 * (size + i), true);
    if (!Number.isFinite(mean)) throw invalid(`centroid ${i} has mean ${mean}`);
    if (!(Number.isSafeInteger(weight) && weight > 0)) {
      throw invalid(`centroid ${i} has weight ${weight}, expected a positive whole number`);
    }
    // -0 counts as 0, as everywhere in the sketch.
    means[i] = Math.min(max, Math.max(min, mean)) + 0;
    weights[i] = weight;
    sum += weight;
    if (i > 0 && means[i]! < means[i - 1]!) sorted = false;
  }
  if (!Number.isSafeInteger(sum) || sum !== totalWeight) {
    throw invalid(`total weight ${totalWeight}, but the weights add up to ${sum}`);
  }
  if (!sorted) sortCentroids(means, weights);
  return { min: min + 0, max: max + 0, compression, totalWeight, means, weights };
}

/** Sorts centroids by mean, keeping equal means in their order (an insertion sort: they are nearly sorted). */
function sortCentroids(means: Float64Array, weights: Float64Array): void {
  for (let i = 1; i < means.length; i++) {
    const mean = means[i]!;
    const weight = weights[i]!;
    let j = i - 1;
    while (j >= 0 && means[j]! > mean) {
      means[j + 1] = means[j]!;
      weights[j + 1] = weights[j]!;
      j--;
    }
    means[j + 1] = mean;
    weights[j + 1] = weight;
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 (RFC 4648 §4, with padding), as Athena's `to_base64` and `from_base64` use it. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Decodes standard, padded base64.
 *
 * @throws RangeError when `text` is not such base64 (Node's own decoder would skip bad characters).
 */
export function fromBase64(text: string): Uint8Array {
  if (!BASE64.test(text)) throw new RangeError('invalid Trino tdigest: not padded standard base64');
  const buffer = Buffer.from(text, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
