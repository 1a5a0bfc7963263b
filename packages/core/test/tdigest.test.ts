import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { fold, type StateData } from '../src/aggregator';
import { quantile, quantiles } from '../src/aggregators/quantiles';
import { type DigestResult, digest, tdigest } from '../src/aggregators/tdigest';
import { InvalidOptionError, TicketflowError } from '../src/errors';
import { QuantileSketch } from '../src/internal/quantile-sketch';
import { decodeTrinoTDigest, encodeTrinoTDigest } from '../src/internal/trino-tdigest';
import { random } from './support/random';

const SLA_HOURS = [4, 8, 24, 48, 72];

/** The fields of airlift's binary form, read independently of the library's reader. */
function parse(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getInt32(33, true);
  const means: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < n; i++) means.push(view.getFloat64(37 + 8 * i, true));
  for (let i = 0; i < n; i++) weights.push(view.getFloat64(37 + 8 * (n + i), true));
  return {
    format: view.getUint8(0),
    min: view.getFloat64(1, true),
    max: view.getFloat64(9, true),
    compression: view.getFloat64(17, true),
    total: view.getFloat64(25, true),
    n,
    length: bytes.length,
    means,
    weights,
  };
}

/** A digest in the binary form, from plain fields. */
function bytesOf(fields: {
  format?: number;
  min: number;
  max: number;
  compression?: number;
  total: number;
  means: number[];
  weights: number[];
  n?: number;
}): Uint8Array {
  const n = fields.means.length;
  const bytes = new Uint8Array(37 + 16 * n);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, fields.format ?? 0);
  view.setFloat64(1, fields.min, true);
  view.setFloat64(9, fields.max, true);
  view.setFloat64(17, fields.compression ?? 100, true);
  view.setFloat64(25, fields.total, true);
  view.setInt32(33, fields.n ?? n, true);
  for (const [i, m] of fields.means.entries()) view.setFloat64(37 + 8 * i, m, true);
  for (const [i, w] of fields.weights.entries()) view.setFloat64(37 + 8 * (n + i), w, true);
  return bytes;
}

function sketchOf(values: ArrayLike<number>, options?: { compression?: number; exactLimit?: number }) {
  const sketch = new QuantileSketch(options);
  for (let i = 0; i < values.length; i++) sketch.add(values[i]!);
  return sketch;
}

function generate(n: number, seed: number, value: (next: () => number) => number): Float64Array {
  const next = random(seed);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = value(next);
  return values;
}

const slaHour = (next: () => number) => {
  const u = next();
  return u < 0.1 ? 4 : u < 0.35 ? 8 : u < 0.75 ? 24 : u < 0.9 ? 48 : 72;
};

/** How far `estimate` is from the `q`-quantile of `sorted`, as a fraction of the values (0 inside a tie). */
function rankError(sorted: Float64Array, estimate: number, q: number): number {
  const below = (strict: boolean) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (strict ? sorted[mid]! < estimate : sorted[mid]! <= estimate) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const target = q * sorted.length;
  return Math.max(0, below(true) - target, target - below(false)) / sorted.length;
}

const GRID = Array.from({ length: 99 }, (_, i) => (i + 1) / 100);

describe('QuantileSketch.toTrinoTDigest: the byte layout', () => {
  it('writes format 0, then little-endian min, max, compression, total, int32 n, means, weights', () => {
    const bytes = sketchOf([3, -1.5, 3, 10]).toTrinoTDigest({ compression: 1234 })!;
    const expected = bytesOf({
      min: -1.5,
      max: 10,
      compression: 1234,
      total: 4,
      means: [-1.5, 3, 3, 10],
      weights: [1, 1, 1, 1],
    });
    expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
    // Spot checks against hand-written bytes: min -1.5 is bf f8 00.. big-endian, so 00.. f8 bf here.
    expect(Buffer.from(bytes.subarray(0, 9)).toString('hex')).toBe('00000000000000f8bf');
    expect(Buffer.from(bytes.subarray(33, 37)).toString('hex')).toBe('04000000');
    expect(bytes.length).toBe(37 + 16 * 4);
  });

  it('defaults the header compression to 5000', () => {
    expect(parse(sketchOf([1]).toTrinoTDigest()!).compression).toBe(5000);
  });

  it('returns null for an empty sketch, and for one that saw only non-finite values', () => {
    expect(new QuantileSketch().toTrinoTDigest()).toBeNull();
    expect(sketchOf([Number.NaN, Number.POSITIVE_INFINITY]).toTrinoTDigest()).toBeNull();
  });

  it('writes an exact sketch as its own values, each count as weight', () => {
    // 1000 values, 5 distinct: a count small enough for one centroid stays one.
    const values = [...Array(990).fill(24), ...Array(10).fill(72)];
    const { means, weights, total, min, max } = parse(sketchOf(values).toTrinoTDigest()!);
    expect(new Set(means)).toEqual(new Set([24, 72]));
    expect(weights.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(total).toBe(1000);
    expect([min, max]).toEqual([24, 72]);
    // The run of 72s (1% of the values, at the top tail) is one centroid or a few, never mixed with 24.
    expect(means.filter((m) => m === 72).length).toBeLessThanOrEqual(10);
  });

  it('splits a heavily repeated value into centroids of that same value, never mixing values', () => {
    const values = generate(100_000, 1, slaHour);
    const { means, weights, total } = parse(sketchOf(values).toTrinoTDigest()!);
    expect(means.every((m) => SLA_HOURS.includes(m))).toBe(true);
    expect(total).toBe(100_000);
    expect(weights.reduce((a, b) => a + b, 0)).toBe(100_000);
    // No centroid spans more than 0.5% of the ranks: airlift would interpolate across a heavier one.
    expect(Math.max(...weights)).toBeLessThanOrEqual(500);
    for (const hours of SLA_HOURS) {
      const count = values.filter((v) => v === hours).length;
      const written = weights.filter((_, i) => means[i] === hours).reduce((a, b) => a + b, 0);
      expect(written).toBe(count);
    }
  });

  it('writes only finite means ascending within [min, max] and positive whole weights adding up to the count', () => {
    const value = fc.oneof(
      fc.double({ noNaN: true, min: -1e6, max: 1e6 }),
      fc.constantFrom(...SLA_HOURS),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0),
    );
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 3000 }),
        fc.integer({ min: 0, max: 64 }),
        fc.integer({ min: 16, max: 600 }),
        (values, exactLimit, maxCentroids) => {
          const sketch = sketchOf(values, { exactLimit });
          const bytes = sketch.toTrinoTDigest({ maxCentroids });
          if (sketch.count === 0) {
            expect(bytes).toBeNull();
            return;
          }
          const d = parse(bytes!);
          expect(d.format).toBe(0);
          expect(d.length).toBe(37 + 16 * d.n);
          expect(d.n).toBeGreaterThan(0);
          expect(d.n).toBeLessThanOrEqual(maxCentroids);
          expect([d.min, d.max]).toEqual([sketch.min, sketch.max]);
          expect(d.total).toBe(sketch.count);
          expect(d.weights.reduce((a, b) => a + b, 0)).toBe(d.total);
          for (let i = 0; i < d.n; i++) {
            expect(Number.isFinite(d.means[i])).toBe(true);
            expect(d.means[i]).toBeGreaterThanOrEqual(d.min);
            expect(d.means[i]).toBeLessThanOrEqual(d.max);
            if (i > 0) expect(d.means[i]).toBeGreaterThanOrEqual(d.means[i - 1]!);
            expect(Number.isSafeInteger(d.weights[i]) && d.weights[i]! > 0).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('caps the centroids at maxCentroids, compressing a copy', () => {
    const values = generate(200_000, 2, (next) => -Math.log(1 - next()));
    const sketch = sketchOf(values, { compression: 1000 });
    const before = JSON.stringify(sketch.toJSON());
    const full = parse(sketch.toTrinoTDigest({ maxCentroids: 100_000 })!);
    expect(full.n).toBeGreaterThan(1000);
    const capped = parse(sketch.toTrinoTDigest()!);
    expect(capped.n).toBeLessThanOrEqual(512);
    expect(capped.n).toBeGreaterThan(300);
    const tiny = sketch.toTrinoTDigest({ maxCentroids: 32 })!;
    expect(parse(tiny).n).toBeLessThanOrEqual(32);
    // The sketch itself is unchanged.
    expect(JSON.stringify(sketch.toJSON())).toBe(before);
    // Even 32 centroids keep the t-digest shape: the median within 3% of rank.
    const sorted = Float64Array.from(values).sort();
    expect(rankError(sorted, QuantileSketch.fromTrinoTDigest(tiny).quantile(0.5)!, 0.5)).toBeLessThan(0.03);
  });

  it('caps an exact sketch with more distinct values than maxCentroids too', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i);
    const d = parse(sketchOf(values).toTrinoTDigest({ maxCentroids: 100 })!);
    expect(d.n).toBeLessThanOrEqual(100);
    expect(d.total).toBe(1000);
  });

  it('rejects options out of their domain', () => {
    const sketch = sketchOf([1]);
    expect(() => sketch.toTrinoTDigest({ compression: 9 })).toThrow(InvalidOptionError);
    expect(() => sketch.toTrinoTDigest({ compression: Number.NaN })).toThrow(InvalidOptionError);
    expect(() => sketch.toTrinoTDigest({ maxCentroids: 15 })).toThrow(InvalidOptionError);
    expect(() => sketch.toTrinoTDigest({ maxCentroids: 100.5 })).toThrow(InvalidOptionError);
    expect(() => new QuantileSketch().toTrinoTDigest({ compression: 9 })).toThrow(InvalidOptionError);
  });
});

describe('QuantileSketch.toTrinoTDigest: determinism', () => {
  it('gives the same bytes for the same values in the same order, in exact and digest mode', () => {
    for (const values of [generate(500, 3, slaHour), generate(50_000, 4, (next) => next() * 100)]) {
      const a = sketchOf(values).toTrinoTDigest()!;
      const b = sketchOf(values).toTrinoTDigest()!;
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    }
  });

  it('gives the same bytes for an exact sketch whatever the order of its values', () => {
    const values = Array.from(generate(900, 5, slaHour));
    const shuffled = [...values].reverse();
    expect(Buffer.from(sketchOf(values).toTrinoTDigest()!)).toEqual(
      Buffer.from(sketchOf(shuffled).toTrinoTDigest()!),
    );
  });

  it('does not change the sketch: writing twice, or after a query, gives the same bytes', () => {
    const sketch = sketchOf(generate(20_000, 6, (next) => next()));
    const first = sketch.toTrinoTDigest()!;
    sketch.quantiles([0.1, 0.5]);
    expect(Buffer.from(sketch.toTrinoTDigest()!)).toEqual(Buffer.from(first));
  });
});

describe('QuantileSketch.fromTrinoTDigest: the reader', () => {
  it('round-trips count, min and max, and the quantiles within 1% of rank', () => {
    const values = generate(100_000, 7, (next) => Math.exp(3 * next()));
    const sorted = Float64Array.from(values).sort();
    const sketch = sketchOf(values);
    const read = QuantileSketch.fromTrinoTDigest(sketch.toTrinoTDigest()!);
    expect([read.count, read.min, read.max]).toEqual([100_000, sketch.min, sketch.max]);
    expect(read.isExact()).toBe(false);
    const estimates = read.quantiles(GRID);
    for (const [i, q] of GRID.entries()) expect(rankError(sorted, estimates[i]!, q)).toBeLessThan(0.01);
  });

  it('reads a digest of single values back as an exact sketch', () => {
    const values = [1, 4, 4, 24, 72, 72, 72];
    const read = QuantileSketch.fromTrinoTDigest(sketchOf(values).toTrinoTDigest()!);
    expect(read.isExact()).toBe(true);
    expect(read.toJSON()).toEqual(sketchOf(values).toJSON());
  });

  it('keeps a t-digest when single-value centroids do not reach the stated min and max', () => {
    const bytes = bytesOf({ min: 0, max: 9, total: 3, means: [1, 2, 3], weights: [1, 1, 1] });
    const read = QuantileSketch.fromTrinoTDigest(bytes);
    expect(read.isExact()).toBe(false);
    expect([read.min, read.max]).toEqual([0, 9]);
    expect(QuantileSketch.fromJSON(read.toJSON()).toJSON()).toEqual(read.toJSON());
  });

  it('reads base64 as well as bytes, and refuses what is not padded standard base64', () => {
    const bytes = sketchOf([1, 2, 3]).toTrinoTDigest()!;
    const base64 = Buffer.from(bytes).toString('base64');
    expect(QuantileSketch.fromTrinoTDigest(base64).toJSON()).toEqual(
      QuantileSketch.fromTrinoTDigest(bytes).toJSON(),
    );
    expect(() => QuantileSketch.fromTrinoTDigest(`${base64}!`)).toThrow(RangeError);
    expect(() => QuantileSketch.fromTrinoTDigest(base64.replace(/=+$/, ''))).toThrow(RangeError);
  });

  it('takes the sketch options for the sketch it builds', () => {
    const bytes = sketchOf(generate(5000, 8, (next) => next())).toTrinoTDigest()!;
    expect(QuantileSketch.fromTrinoTDigest(bytes, { compression: 50 }).toJSON().compression).toBe(50);
    expect(() => QuantileSketch.fromTrinoTDigest(bytes, { compression: 1 })).toThrow(InvalidOptionError);
  });

  it("reads airlift's empty digest (no centroids, min +Infinity, max -Infinity) as an empty sketch", () => {
    const empty = bytesOf({ min: Infinity, max: -Infinity, total: 0, means: [], weights: [] });
    const sketch = QuantileSketch.fromTrinoTDigest(empty);
    expect([sketch.count, sketch.min, sketch.quantile(0.5)]).toEqual([0, null, null]);
  });

  it('sorts means that rounding left out of order, with their weights', () => {
    const bytes = bytesOf({
      min: 1,
      max: 5,
      total: 6,
      means: [1, 3, 2.9999999999999996, 5],
      weights: [1, 2, 2, 1],
    });
    const decoded = decodeTrinoTDigest(bytes);
    expect(Array.from(decoded.means)).toEqual([1, 2.9999999999999996, 3, 5]);
    expect(Array.from(decoded.weights)).toEqual([1, 2, 2, 1]);
  });

  it.each([
    ['a wrong format byte', { format: 1, min: 1, max: 1, total: 1, means: [1], weights: [1] }],
    ['a compression below 10', { compression: 9.5, min: 1, max: 1, total: 1, means: [1], weights: [1] }],
    ['a NaN mean', { min: 1, max: 2, total: 2, means: [1, Number.NaN], weights: [1, 1] }],
    ['an infinite min', { min: -Infinity, max: 2, total: 2, means: [1, 2], weights: [1, 1] }],
    ['min above max', { min: 3, max: 2, total: 2, means: [2, 3], weights: [1, 1] }],
    ['a zero weight', { min: 1, max: 2, total: 1, means: [1, 2], weights: [1, 0] }],
    ['a fractional weight', { min: 1, max: 2, total: 2, means: [1, 2], weights: [1.5, 0.5] }],
    ['a total that is not the sum', { min: 1, max: 2, total: 3, means: [1, 2], weights: [1, 1] }],
    [
      'a centroid count that does not match the length',
      { n: 3, min: 1, max: 2, total: 2, means: [1, 2], weights: [1, 1] },
    ],
    ['a negative centroid count', { n: -1, min: 1, max: 2, total: 2, means: [1, 2], weights: [1, 1] }],
    ['a total without centroids', { min: Infinity, max: -Infinity, total: 2, means: [], weights: [] }],
  ])('refuses %s', (_, fields) => {
    expect(() => QuantileSketch.fromTrinoTDigest(bytesOf(fields))).toThrow(RangeError);
  });

  it('refuses a truncated digest and trailing bytes', () => {
    const bytes = sketchOf([1, 2, 3]).toTrinoTDigest()!;
    expect(() => QuantileSketch.fromTrinoTDigest(bytes.subarray(0, bytes.length - 1))).toThrow(RangeError);
    expect(() => QuantileSketch.fromTrinoTDigest(bytes.subarray(0, 20))).toThrow(/shorter than/);
    expect(() => QuantileSketch.fromTrinoTDigest(Uint8Array.from([...bytes, 0]))).toThrow(RangeError);
  });

  it('reads a digest from the middle of a larger buffer', () => {
    const bytes = sketchOf([5, 6]).toTrinoTDigest()!;
    const framed = new Uint8Array(bytes.length + 8);
    framed.set(bytes, 3);
    expect(QuantileSketch.fromTrinoTDigest(framed.subarray(3, 3 + bytes.length)).quantiles([0, 1])).toEqual([
      5, 6,
    ]);
  });

  it('round-trips the layout through encodeTrinoTDigest and decodeTrinoTDigest', () => {
    const digest = {
      min: -2,
      max: 7,
      compression: 300,
      totalWeight: 6,
      means: Float64Array.from([-2, 1, 7]),
      weights: Float64Array.from([1, 4, 1]),
    };
    expect(decodeTrinoTDigest(encodeTrinoTDigest(digest))).toEqual(digest);
  });
});

describe('merging digests read back', () => {
  const values = generate(240_000, 9, slaHour);
  const sorted = Float64Array.from(values).sort();

  it.each([2, 24, 240])('merges %i digests of SLA hours within 1% of rank', (parts) => {
    const merged = new QuantileSketch();
    for (let p = 0; p < parts; p++) {
      const part = values.subarray((p * values.length) / parts, ((p + 1) * values.length) / parts);
      merged.merge(QuantileSketch.fromTrinoTDigest(sketchOf(part).toTrinoTDigest()!));
    }
    expect(merged.count).toBe(values.length);
    const estimates = merged.quantiles(GRID);
    for (const [i, q] of GRID.entries()) expect(rankError(sorted, estimates[i]!, q)).toBeLessThan(0.01);
  });

  it('keeps merged exact digests exact when every centroid is a single value', () => {
    const a = sketchOf([4, 8, 24]);
    const b = sketchOf([24, 48]);
    const merged = QuantileSketch.fromTrinoTDigest(a.toTrinoTDigest()!).merge(
      QuantileSketch.fromTrinoTDigest(b.toTrinoTDigest()!),
    );
    expect(merged.isExact()).toBe(true);
    expect(merged.quantiles([0.2, 0.4, 0.6, 0.8, 1])).toEqual([4, 8, 24, 24, 48]);
  });
});

describe('tdigest()', () => {
  const sla = tdigest((t: { sla_hours: number }) => t.sla_hours);
  const tickets = (hours: readonly number[]) => hours.map((sla_hours) => ({ sla_hours }));

  it('is null for an empty window and for one without a finite value', () => {
    expect(sla.result(sla.init())).toBeNull();
    expect(sla.result(fold(sla, tickets([Number.NaN, Number.NEGATIVE_INFINITY])))).toBeNull();
  });

  it('writes base64 of the binary form', () => {
    const base64 = sla.result(fold(sla, tickets([4, 24, 24])))!;
    expect(base64).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    const d = parse(Buffer.from(base64, 'base64'));
    expect(d).toMatchObject({ format: 0, min: 4, max: 24, compression: 5000, total: 3, n: 3 });
  });

  it('applies trinoCompression and maxCentroids', () => {
    const custom = tdigest((x: number) => x, { trinoCompression: 250, maxCentroids: 40 });
    const base64 = custom.result(
      fold(
        custom,
        generate(10_000, 10, (next) => next()),
      ),
    )!;
    const d = parse(Buffer.from(base64, 'base64'));
    expect(d.compression).toBe(250);
    expect(d.n).toBeLessThanOrEqual(40);
  });

  it('is deterministic, and merging partial windows gives the bytes of one window of exact data', () => {
    const hours = Array.from(generate(3000, 11, slaHour));
    const whole = sla.result(fold(sla, tickets(hours)));
    expect(sla.result(fold(sla, tickets(hours)))).toBe(whole);
    const merged = sla.merge(fold(sla, tickets(hours.slice(0, 1234))), fold(sla, tickets(hours.slice(1234))));
    expect(sla.result(merged)).toBe(whole);
  });

  it('has the codec tdigest/1, which round-trips through JSON text', () => {
    const codec = sla.codec!;
    expect(codec.id).toBe('tdigest/1');
    for (const hours of [[], [4, 8], Array.from(generate(20_000, 12, (next) => next() * 96))]) {
      const acc = fold(sla, tickets(hours));
      const text = JSON.stringify(codec.encode(acc));
      expect(JSON.stringify(codec.encode(acc))).toBe(text);
      const restored = codec.decode(JSON.parse(text));
      expect(sla.result(restored)).toBe(sla.result(acc));
      // The restored state goes on like the original.
      const more = tickets([1, 2, 3, 1000]);
      expect(sla.result(fold({ ...sla, init: () => restored }, more))).toBe(
        sla.result(fold({ ...sla, init: () => acc }, more)),
      );
    }
  });

  it('refuses a state that is not a sketch with INVALID_STATE', () => {
    const codec = sla.codec!;
    const invalid: StateData[] = [
      null,
      3,
      'x',
      [],
      { version: 2 },
      { ...(codec.encode(fold(sla, tickets([1]))) as Record<string, StateData>), count: 5 },
    ];
    for (const data of invalid) {
      try {
        codec.decode(data);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(TicketflowError);
        expect((error as TicketflowError).code).toBe('INVALID_STATE');
        expect((error as TicketflowError).message).toMatch(/^invalid tdigest\/1 state: /);
      }
    }
  });

  it('checks its options when made', () => {
    const value = (x: number) => x;
    expect(() => tdigest(value, { trinoCompression: 5 })).toThrow(InvalidOptionError);
    expect(() => tdigest(value, { maxCentroids: 8 })).toThrow(InvalidOptionError);
    expect(() => tdigest(value, { compression: 5 })).toThrow(InvalidOptionError);
    expect(() => tdigest(value, { exactLimit: -1 })).toThrow(InvalidOptionError);
  });
});

describe('digest(): quantiles and the digest from one sketch', () => {
  const value = (t: { sla_hours: number }) => t.sla_hours;
  const hours = Array.from(generate(5000, 13, slaHour)).map((sla_hours) => ({ sla_hours }));

  it('gives named quantiles, the count and the digest of tdigest()', () => {
    const sla = digest(value, { quantiles: { median: 0.5, p90: 0.9, p99: 0.99 } });
    const result = sla.result(fold(sla, hours));
    const [median, p90, p99] = fold(quantiles(value, [0.5, 0.9, 0.99]), hours).quantiles([0.5, 0.9, 0.99]);
    expect(result.quantiles).toEqual({ median, p90, p99 });
    expect(result.count).toBe(5000);
    const alone = tdigest(value);
    expect(result.tdigest).toBe(alone.result(fold(alone, hours)));
  });

  it('types the result after the quantiles asked for', () => {
    const named = digest(value, { quantiles: { median: 0.5, p99: 0.99 } });
    expectTypeOf(named.result(named.init())).toEqualTypeOf<
      DigestResult<{ readonly median: 0.5; readonly p99: 0.99 }>
    >();
    expectTypeOf(named.result(named.init()).quantiles).toEqualTypeOf<{
      median: number | null;
      p99: number | null;
    }>();
    const listed = digest(value, { quantiles: [0.5, 0.9] });
    expectTypeOf(listed.result(listed.init()).quantiles).toEqualTypeOf<[number | null, number | null]>();
    expectTypeOf(listed.result(listed.init()).tdigest).toEqualTypeOf<string | null>();
    expectTypeOf(tdigest(value).result).returns.toEqualTypeOf<string | null>();
  });

  it('gives listed quantiles in their order', () => {
    const sla = digest(value, { quantiles: [0.99, 0.5] });
    const result = sla.result(fold(sla, hours));
    const [p99, median] = result.quantiles;
    expect([p99, median]).toEqual([72, 24]);
  });

  it('is all null and count 0 for an empty window', () => {
    const sla = digest(value, { quantiles: { median: 0.5 } });
    expect(sla.result(sla.init())).toEqual({ count: 0, quantiles: { median: null }, tdigest: null });
  });

  it('shares the codec of tdigest()', () => {
    const sla = digest(value, { quantiles: [0.5] });
    expect(sla.codec!.id).toBe('tdigest/1');
    const acc = fold(sla, hours);
    expect(sla.result(sla.codec!.decode(JSON.parse(JSON.stringify(sla.codec!.encode(acc)))))).toEqual(
      sla.result(acc),
    );
  });

  it('checks the probabilities and options when made', () => {
    expect(() => digest(value, { quantiles: { p: 1.5 } })).toThrow(/quantiles\.p must be a probability/);
    expect(() => digest(value, { quantiles: [0.5, Number.NaN] })).toThrow(/quantiles\[1\]/);
    expect(() => digest(value, { quantiles: [0.5], trinoCompression: 1 })).toThrow(InvalidOptionError);
  });
});

describe('the codec of quantile(), quantiles() and median()', () => {
  it('is quantiles/1 and round-trips', () => {
    const p90 = quantile((x: number) => x, 0.9);
    expect(p90.codec!.id).toBe('quantiles/1');
    const acc = fold(
      p90,
      generate(30_000, 14, (next) => next()),
    );
    const restored = p90.codec!.decode(JSON.parse(JSON.stringify(p90.codec!.encode(acc))));
    expect(p90.result(restored)).toBe(p90.result(acc));
    expect(() => p90.codec!.decode({ version: 1 })).toThrow(/^invalid quantiles\/1 state: /);
  });
});
