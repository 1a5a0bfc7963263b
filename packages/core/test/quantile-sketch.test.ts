import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../src/errors';
import { QuantileSketch, type QuantileSketchJSON } from '../src/internal/quantile-sketch';
import { random } from './support/random';

const PROBABILITIES = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99];

function normal(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

function generate(n: number, seed: number, value: (next: () => number) => number): Float64Array {
  const next = random(seed);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = value(next);
  return values;
}

function sketchOf(values: ArrayLike<number>, options?: { compression?: number; exactLimit?: number }) {
  const sketch = new QuantileSketch(options);
  for (let i = 0; i < values.length; i++) sketch.add(values[i]!);
  return sketch;
}

function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** The number of sorted values below `value` (`strict`) or at or below it. */
function countBelow(sorted: Float64Array, value: number, strict: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (strict ? sorted[mid]! < value : sorted[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * How far `estimate` is from the `q`-quantile, as a fraction of the values: 0 when `q·n` lies between
 * the number of values below it and the number at or below it (ties make a value's rank an interval).
 */
function rankError(sorted: Float64Array, estimate: number, q: number): number {
  const target = q * sorted.length;
  const below = countBelow(sorted, estimate, true);
  const atOrBelow = countBelow(sorted, estimate, false);
  return Math.max(0, below - target, target - atOrBelow) / sorted.length;
}

function maxRankError(sketch: QuantileSketch, sorted: Float64Array): number {
  const estimates = sketch.quantiles(PROBABILITIES);
  return Math.max(...PROBABILITIES.map((q, i) => rankError(sorted, estimates[i]!, q)));
}

/** The nearest-rank `num/den`-quantile by sorting, with the rank `⌈num·n/den⌉` in integer arithmetic. */
function bruteForceQuantile(values: readonly number[], num: number, den: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.floor((num * sorted.length + den - 1) / den)));
  return sorted[rank - 1]! + 0;
}

function chunksOf<T>(values: readonly T[], cuts: readonly number[]): T[][] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * values.length)))].sort((a, b) => a - b);
  const chunks: T[][] = [];
  let start = 0;
  for (const point of [...points, values.length]) {
    chunks.push(values.slice(start, point));
    start = point;
  }
  return chunks;
}

/**
 * Runs a property. A failing property on thousands of values can shrink for many minutes; stopping after
 * 15 s still reports the smallest counterexample found so far.
 */
function check<Ts>(property: fc.IProperty<Ts>): void {
  fc.assert(property, { plugins: [fc.interruptAfterTimeLimit(15_000)] });
}

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const smallInts = fc.integer({ min: -40, max: 40 });
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 });

describe('QuantileSketch in exact mode', () => {
  it('returns the nearest-rank value that a brute-force sort gives, for any small input and q', () => {
    check(
      fc.property(
        fc.array(fc.oneof(smallInts, finite), { minLength: 1, maxLength: 300, size: 'max' }),
        fc
          .integer({ min: 1, max: 1000 })
          .chain((den) => fc.tuple(fc.integer({ min: 0, max: den }), fc.constant(den))),
        (values, [num, den]) => {
          const sketch = sketchOf(values);
          expect(sketch.isExact()).toBe(true);
          expect(sketch.quantile(num / den)).toBe(bruteForceQuantile(values, num, den));
        },
      ),
    );
  });

  it('answers the documented nearest-rank examples', () => {
    expect(sketchOf([1, 4]).quantile(0.5)).toBe(1);
    expect(sketchOf([4, 1, 24]).quantile(0.5)).toBe(4);
    const oneToTen = sketchOf([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(oneToTen.quantiles([0, 0.1, 0.15, 0.7, 0.71, 1])).toEqual([1, 1, 2, 7, 8, 10]);
    expect(sketchOf([1, 4, 24, 72, 4]).quantiles([0.5, 0.9])).toEqual([4, 72]);
    // 0.07 * 100 is 7.000000000000001 and 0.58 * 50 is 28.999999999999996 in floating point.
    const oneToHundred = sketchOf(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(oneToHundred.quantiles([0.07, 0.14, 0.56, 0.58, 0.0701])).toEqual([7, 14, 56, 58, 8]);
    const oneToFifty = sketchOf(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(oneToFifty.quantiles([0.14, 0.28, 0.58])).toEqual([7, 14, 29]);
  });

  it('stays exact for 100,000 values of the four SLA hours', () => {
    const hours = [1, 4, 24, 72];
    const values = generate(100_000, 7, (next) => hours[Math.floor(next() ** 2 * 4)]!);
    const sorted = sortedCopy(values);
    const sketch = sketchOf(values);
    expect(sketch.isExact()).toBe(true);
    expect(sketch.toJSON().means).toEqual(hours);
    expect(sketch.toJSON().weights).toEqual(hours.map((h) => values.filter((v) => v === h).length));
    for (let num = 0; num <= 1000; num++) {
      const rank = Math.max(1, Math.ceil((num * sorted.length) / 1000));
      expect(sketch.quantile(num / 1000)).toBe(sorted[rank - 1]);
    }
  });

  it('switches to a t-digest only past exactLimit distinct values, keeping min and max exact', () => {
    const sketch = sketchOf([5, 3, 9, 3, 1], { exactLimit: 4 });
    expect(sketch.isExact()).toBe(true);
    sketch.add(5);
    expect(sketch.isExact()).toBe(true);
    sketch.add(-2);
    expect(sketch.isExact()).toBe(false);
    expect([sketch.count, sketch.min, sketch.max]).toEqual([7, -2, 9]);
    expect(sketch.quantiles([0, 1])).toEqual([-2, 9]);
  });

  it('counts -0 as 0', () => {
    const sketch = sketchOf([-0, 0, -0]);
    expect(sketch.toJSON().means).toEqual([0]);
    expect(Object.is(sketch.quantile(0.5), 0)).toBe(true);
    expect(Object.is(sketch.min, 0)).toBe(true);
  });
});

describe('QuantileSketch in digest mode', () => {
  const cases: [string, number, (next: () => number) => number][] = [
    ['uniform', 1_000_000, (next) => next()],
    ['normal', 1_000_000, (next) => 100 + 15 * normal(next)],
    ['exponential', 1_000_000, (next) => -Math.log(1 - next())],
    ['log-normal (heavy tail)', 500_000, (next) => Math.exp(3 * normal(next))],
    ['many duplicates (5000 distinct integers)', 1_000_000, (next) => Math.floor(next() * 5000)],
    ['one dominant value', 500_000, (next) => (next() < 0.6 ? 42 : next() * 100)],
    ['large close values (millisecond timestamps)', 500_000, (next) => 1.7e12 + Math.floor(next() * 3.6e6)],
  ];

  for (const [name, n, value] of cases) {
    it(`stays within 1% of rank for ${n.toLocaleString('en')} values of ${name} data`, () => {
      const values = generate(n, 11, value);
      const sketch = sketchOf(values);
      expect(sketch.isExact()).toBe(false);
      expect(maxRankError(sketch, sortedCopy(values))).toBeLessThan(0.01);
    });
  }

  for (const direction of ['ascending', 'descending']) {
    it(`stays within 1% of rank for 1,000,000 values sorted ${direction}`, () => {
      const sorted = generate(1_000_000, 12, (next) => 50 + 10 * normal(next)).sort();
      const sketch = new QuantileSketch();
      const n = sorted.length;
      for (let i = 0; i < n; i++) sketch.add(sorted[direction === 'ascending' ? i : n - 1 - i]!);
      expect(maxRankError(sketch, sorted)).toBeLessThan(0.01);
    });
  }

  for (const parts of [10, 37, 100]) {
    it(`stays within 1% of rank after merging ${parts} sketches`, () => {
      const values = generate(600_000, parts, (next) => (next() < 0.5 ? normal(next) : 3 - Math.log(next())));
      const merged = new QuantileSketch();
      for (let p = 0; p < parts; p++) {
        const start = Math.floor((p * values.length) / parts);
        merged.merge(sketchOf(values.subarray(start, Math.floor(((p + 1) * values.length) / parts))));
      }
      expect(merged.count).toBe(values.length);
      expect(maxRankError(merged, sortedCopy(values))).toBeLessThan(0.01);
    });
  }

  it('stays within 1% of rank after merging 64 sketches pairwise in a tree', () => {
    const values = generate(640_000, 5, (next) => Math.floor(-1000 * Math.log(1 - next())));
    let level = Array.from({ length: 64 }, (_, p) => sketchOf(values.subarray(p * 10_000, (p + 1) * 10_000)));
    while (level.length > 1) {
      level = Array.from({ length: level.length / 2 }, (_, i) => level[2 * i]!.merge(level[2 * i + 1]!));
    }
    expect(maxRankError(level[0]!, sortedCopy(values))).toBeLessThan(0.01);
  });

  it('reads a value holding most of a batch as that value after switching to a digest', () => {
    for (const n of [12_000, 50_000]) {
      const values = generate(n, n, (next) => (next() < 0.9 ? 5 : 10 * next()));
      const sketch = sketchOf(values);
      expect(sketch.isExact()).toBe(false);
      const qs = Array.from({ length: 99 }, (_, i) => (i + 1) / 100);
      const sorted = sortedCopy(values);
      const estimates = sketch.quantiles(qs);
      expect(Math.max(...qs.map((q, i) => rankError(sorted, estimates[i]!, q)))).toBeLessThan(0.01);
    }
    expect(sketchOf([0, 0, -1], { exactLimit: 1 }).quantiles([0.2, 0.5, 0.8])).toEqual([-1, 0, 0]);
  });

  it('returns the exact min for q = 0 and the exact max for q = 1', () => {
    const values = generate(200_000, 3, (next) => normal(next));
    const sorted = sortedCopy(values);
    const sketch = sketchOf(values);
    expect(sketch.quantiles([0, 1])).toEqual([sorted[0], sorted[sorted.length - 1]]);
    expect([sketch.min, sketch.max]).toEqual([sorted[0], sorted[sorted.length - 1]]);
  });

  it('returns exact order statistics while all values fit in the buffer, for any finite doubles', () => {
    // With exactLimit 0 and fewer values than the smallest buffer, every value is its own point, so this
    // checks the sort of arbitrary doubles (both signs, subnormals, huge ranges, heavy duplication).
    check(
      fc.property(
        fc.array(fc.oneof(finite, smallInts), { minLength: 1, maxLength: 511, size: 'max' }),
        (values) => {
          const sketch = sketchOf(values, { exactLimit: 0 });
          expect(sketch.isExact()).toBe(false);
          const sorted = values.map((v) => v + 0).sort((a, b) => a - b);
          const n = sorted.length;
          const estimates = sketch.quantiles(sorted.map((_, i) => (i + 0.5) / n));
          expect(estimates).toEqual(sorted);
        },
      ),
    );
  });

  it('gives quantiles that never decrease as q grows and stay within [min, max]', () => {
    check(
      fc.property(
        fc.array(fc.oneof(finite, smallInts), { minLength: 1, maxLength: 3000, size: 'max' }),
        fc.integer({ min: 0, max: 64 }),
        (values, exactLimit) => {
          const sketch = sketchOf(values, { exactLimit });
          const qs = Array.from({ length: 101 }, (_, i) => i / 100);
          const estimates = sketch.quantiles(qs) as number[];
          for (let i = 1; i < estimates.length; i++)
            expect(estimates[i]).toBeGreaterThanOrEqual(estimates[i - 1]!);
          expect(estimates[0]).toBe(sketch.min);
          expect(estimates[100]).toBe(sketch.max);
        },
      ),
    );
  });

  it('stays within 1% of rank for values of both signs spanning 200 orders of magnitude', () => {
    const values = generate(200_000, 9, (next) => (next() < 0.5 ? -1 : 1) * 10 ** (200 * next() - 100));
    expect(maxRankError(sketchOf(values), sortedCopy(values))).toBeLessThan(0.01);
  });

  it('gives finite, ordered quantiles for values at the ends of the double range', () => {
    const extremes = [Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, 0, 1, -1];
    const values = generate(
      50_000,
      4,
      (next) => extremes[Math.floor(next() * extremes.length)]! * (1 - next() / 4),
    );
    const sketch = sketchOf(values, { exactLimit: 0 });
    const estimates = sketch.quantiles(PROBABILITIES) as number[];
    for (const estimate of estimates) expect(Number.isFinite(estimate)).toBe(true);
    expect([...estimates].sort((a, b) => a - b)).toEqual(estimates);
    expect(maxRankError(sketch, sortedCopy(values))).toBeLessThan(0.01);
  });
});

describe('QuantileSketch.merge', () => {
  it('gives exactly the quantiles and the JSON of one sketch of all inputs while exact', () => {
    check(
      fc.property(fc.array(smallInts, { maxLength: 400, size: 'max' }), cuts, (values, at) => {
        const merged = new QuantileSketch();
        for (const chunk of chunksOf(values, at)) merged.merge(sketchOf(chunk));
        const whole = sketchOf(values);
        expect(merged.isExact()).toBe(true);
        expect(merged.quantiles(PROBABILITIES)).toEqual(whole.quantiles(PROBABILITIES));
        expect(JSON.stringify(merged)).toBe(JSON.stringify(whole));
      }),
    );
  });

  it('stays within 1% of rank of all inputs when chunks cross exactLimit', () => {
    check(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: -1e6, max: 1e6 }), smallInts), {
          minLength: 1,
          maxLength: 4000,
          size: 'max',
        }),
        cuts,
        fc.integer({ min: 0, max: 100 }),
        (values, at, exactLimit) => {
          const sorted = sortedCopy(values);
          const merged = new QuantileSketch({ exactLimit });
          for (const chunk of chunksOf(values, at)) merged.merge(sketchOf(chunk, { exactLimit }));
          expect(merged.count).toBe(values.length);
          expect(maxRankError(merged, sorted)).toBeLessThan(0.01);
          expect(maxRankError(sketchOf(values, { exactLimit }), sorted)).toBeLessThan(0.01);
          expect([merged.min, merged.max]).toEqual([sorted[0], sorted[sorted.length - 1]]);
        },
      ),
    );
  });

  it('leaves the other sketch unchanged, in both modes', () => {
    for (const exactLimit of [1024, 8]) {
      const other = sketchOf(
        generate(5000, 2, (next) => Math.floor(next() * 100)),
        { exactLimit },
      );
      const before = JSON.stringify(other);
      sketchOf([1, 2, 3], { exactLimit }).merge(other);
      sketchOf(
        generate(3000, 4, (next) => next()),
        { exactLimit },
      ).merge(other);
      expect(JSON.stringify(other)).toBe(before);
    }
  });

  it('doubles every count when merging a sketch into itself', () => {
    const values = [3, 1, 4, 1, 5, 9, 2, 6];
    const sketch = sketchOf(values);
    sketch.merge(sketch);
    expect(JSON.stringify(sketch)).toBe(JSON.stringify(sketchOf([...values, ...values])));
    const digest = sketchOf(generate(10_000, 8, (next) => next()));
    const copy = QuantileSketch.fromJSON(digest.toJSON());
    expect(JSON.stringify(digest.merge(digest))).toBe(
      JSON.stringify(copy.merge(QuantileSketch.fromJSON(copy.toJSON()))),
    );
    expect(digest.count).toBe(20_000);
  });

  it('ignores an empty sketch', () => {
    const sketch = sketchOf(generate(5000, 1, (next) => next()));
    const before = JSON.stringify(sketch);
    sketch.merge(new QuantileSketch());
    expect(JSON.stringify(sketch)).toBe(before);
  });
});

describe('QuantileSketch determinism', () => {
  it('gives identical JSON for the same sequence of adds and merges', () => {
    check(
      fc.property(
        fc.array(fc.array(fc.oneof(finite, smallInts), { maxLength: 1500, size: 'max' }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.integer({ min: 0, max: 50 }),
        (batches, exactLimit) => {
          const run = (): string => {
            const sketch = new QuantileSketch({ exactLimit });
            batches.forEach((batch, i) => {
              if (i % 2 === 0) for (const v of batch) sketch.add(v);
              else sketch.merge(sketchOf(batch, { exactLimit }));
            });
            return JSON.stringify(sketch);
          };
          expect(run()).toBe(run());
        },
      ),
    );
  });

  it('gives identical JSON and quantiles for 300,000 values fed twice', () => {
    const values = generate(300_000, 21, (next) => -Math.log(1 - next()));
    const a = sketchOf(values);
    const b = sketchOf(values);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.quantiles(PROBABILITIES)).toEqual(b.quantiles(PROBABILITIES));
  });

  it('does not let quantile() calls change later results', () => {
    check(
      fc.property(
        fc.array(fc.oneof(finite, smallInts), { maxLength: 3000, size: 'max' }),
        fc.array(fc.nat(3000), { maxLength: 10 }),
        fc.integer({ min: 0, max: 50 }),
        (values, queryPoints, exactLimit) => {
          const queried = new QuantileSketch({ exactLimit });
          const quiet = new QuantileSketch({ exactLimit });
          values.forEach((v, i) => {
            if (queryPoints.includes(i)) {
              queried.quantile(0.5);
              queried.quantiles(PROBABILITIES);
              queried.toJSON();
            }
            queried.add(v);
            quiet.add(v);
          });
          expect(JSON.stringify(queried)).toBe(JSON.stringify(quiet));
          expect(queried.quantiles(PROBABILITIES)).toEqual(quiet.quantiles(PROBABILITIES));
        },
      ),
    );
  });
});

describe('QuantileSketch JSON', () => {
  it('round-trips through JSON text into a sketch that behaves identically', () => {
    check(
      fc.property(
        fc.array(fc.oneof(finite, smallInts), { maxLength: 3000, size: 'max' }),
        fc.array(fc.oneof(finite, smallInts), { maxLength: 1500, size: 'max' }),
        fc.integer({ min: 0, max: 50 }),
        (prefix, suffix, exactLimit) => {
          const original = sketchOf(prefix, { exactLimit });
          const restored = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(original)));
          expect(JSON.stringify(restored)).toBe(JSON.stringify(original));
          expect([restored.count, restored.min, restored.max]).toEqual([
            original.count,
            original.min,
            original.max,
          ]);
          for (const sketch of [original, restored]) {
            for (const v of suffix) sketch.add(v);
            sketch.merge(sketchOf(suffix, { exactLimit: 4 }));
          }
          expect(JSON.stringify(restored)).toBe(JSON.stringify(original));
          expect(restored.quantiles(PROBABILITIES)).toEqual(original.quantiles(PROBABILITIES));
        },
      ),
    );
  });

  it('lists exact values ascending, so equal multisets give equal JSON', () => {
    expect(JSON.stringify(sketchOf([3, 1, 2, 1]))).toBe(JSON.stringify(sketchOf([1, 2, 1, 3])));
    expect(sketchOf([3, 1, 2, 1]).toJSON()).toEqual({
      version: 1,
      mode: 'exact',
      compression: 200,
      exactLimit: 1024,
      count: 4,
      min: 1,
      max: 3,
      means: [1, 2, 3],
      weights: [2, 1, 1],
      buffer: [],
    });
  });

  it('rejects malformed state with a RangeError', () => {
    const valid = sketchOf([1, 2, 2, 3]).toJSON();
    const digest = sketchOf(
      generate(2000, 1, (next) => next()),
      { exactLimit: 0 },
    ).toJSON();
    const broken: QuantileSketchJSON[] = [
      { ...valid, version: 2 as 1 },
      { ...valid, weights: [1, 2] },
      { ...valid, means: [2, 1, 3] },
      { ...valid, weights: [1, 1.5, 1] },
      { ...valid, weights: [1, 0, 1], count: 2 },
      { ...valid, count: 5 },
      { ...valid, means: [1, Number.NaN, 3] },
      { ...valid, min: 0 },
      { ...valid, buffer: [2], count: 5 },
      { ...valid, means: [1, 1, 3] },
      { ...valid, mode: 'other' as 'exact' },
      { ...valid, exactLimit: 2 },
      { ...valid, compression: undefined as unknown as number },
      { ...digest, buffer: [...digest.buffer, 2] },
      {
        ...digest,
        buffer: new Array<number>(600).fill(0.5),
        count: digest.count - digest.buffer.length + 600,
      },
    ];
    expect(() => QuantileSketch.fromJSON(digest)).not.toThrow();
    for (const json of broken) expect(() => QuantileSketch.fromJSON(json)).toThrow(RangeError);
    expect(() => QuantileSketch.fromJSON({ ...valid, compression: 1 })).toThrow(InvalidOptionError);
  });
});

describe('QuantileSketch edge cases', () => {
  it('returns null for every query of an empty sketch', () => {
    const sketch = new QuantileSketch();
    expect([sketch.count, sketch.min, sketch.max]).toEqual([0, null, null]);
    expect(sketch.quantile(0.5)).toBeNull();
    expect(sketch.quantiles([0, 0.5, 1])).toEqual([null, null, null]);
    expect(QuantileSketch.fromJSON(sketch.toJSON()).quantile(0.5)).toBeNull();
  });

  it('ignores non-finite values and does not count them', () => {
    const sketch = new QuantileSketch();
    expect(sketch.add(Number.NaN)).toBe(false);
    expect(sketch.add(Number.POSITIVE_INFINITY)).toBe(false);
    expect(sketch.add(Number.NEGATIVE_INFINITY)).toBe(false);
    expect(sketch.add('7' as unknown as number)).toBe(false);
    expect(sketch.quantile(0.5)).toBeNull();
    expect(sketch.add(7)).toBe(true);
    check(
      fc.property(
        fc.array(fc.oneof(fc.double(), smallInts), { maxLength: 2000, size: 'max' }),
        fc.integer({ min: 0, max: 50 }),
        (values, exactLimit) => {
          const all = sketchOf(values, { exactLimit });
          const finiteOnly = sketchOf(values.filter(Number.isFinite), { exactLimit });
          expect(JSON.stringify(all)).toBe(JSON.stringify(finiteOnly));
        },
      ),
    );
  });

  it('rejects probabilities outside [0, 1] with a RangeError', () => {
    const sketch = sketchOf([1, 2, 3]);
    for (const q of [-0.01, 1.01, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => sketch.quantile(q)).toThrow(RangeError);
      expect(() => sketch.quantiles([0.5, q])).toThrow(RangeError);
    }
    expect(() => new QuantileSketch().quantile(2)).toThrow(RangeError);
  });

  it('rejects out-of-domain options with an InvalidOptionError', () => {
    for (const options of [
      { compression: 5 },
      { compression: Number.NaN },
      { compression: 1e6 },
      { exactLimit: -1 },
      { exactLimit: 1.5 },
      { exactLimit: 2 ** 21 },
    ]) {
      expect(() => new QuantileSketch(options)).toThrow(InvalidOptionError);
    }
  });
});
