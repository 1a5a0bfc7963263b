import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Aggregator,
  count,
  countBy,
  fold,
  groupBy,
  mapResult,
  max,
  mean,
  median,
  metrics,
  min,
  quantiles,
  sum,
} from '../src/index';

interface Row {
  readonly kind: string;
  readonly n: number;
}

const row = fc.record({
  kind: fc.constantFrom('a', 'b', 'c', 'd'),
  n: fc.integer({ min: -1000, max: 1000 }),
});

const spec = metrics({
  total: count(),
  positives: count((r: Row) => r.n > 0),
  by_kind: countBy((r: Row) => r.kind),
  by_sign: countBy((r: Row) => Math.sign(r.n)),
  sum_n: sum((r: Row) => r.n),
  mean_n: mean((r: Row) => r.n),
  min_n: min((r: Row) => r.n),
  max_n: max((r: Row) => r.n),
  median_n: median((r: Row) => r.n),
  tails: quantiles((r: Row) => r.n, [0, 0.9, 0.99, 1]),
  mean_by_kind: groupBy(
    (r: Row) => r.kind,
    mean((r: Row) => r.n),
  ),
});

function resultOf<In, Acc, Out>(aggregator: Aggregator<In, Acc, Out>, inputs: readonly In[]): Out {
  return aggregator.result(fold(aggregator, inputs));
}

function nearestRank(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] as number;
}

describe('aggregators', () => {
  it('merging the folds of two halves gives the fold of the whole', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 300 }), fc.array(row, { maxLength: 300 }), (a, b) => {
        const merged = spec.result(spec.merge(fold(spec, a), fold(spec, b)));
        expect(merged).toEqual(resultOf(spec, [...a, ...b]));
      }),
      { numRuns: 200 },
    );
  });

  it('merging an empty accumulator changes nothing, on either side', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 100 }), (a) => {
        const whole = resultOf(spec, a);
        expect(spec.result(spec.merge(fold(spec, a), spec.init()))).toEqual(whole);
        expect(spec.result(spec.merge(spec.init(), fold(spec, a)))).toEqual(whole);
      }),
    );
  });

  it('computes every metric as a direct computation over the records would', () => {
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 200 }), (rows) => {
        const out = resultOf(spec, rows);
        const ns = rows.map((r) => r.n);
        expect(out.total).toBe(rows.length);
        expect(out.positives).toBe(ns.filter((n) => n > 0).length);
        expect(out.sum_n).toBe(ns.reduce((s, n) => s + n, 0));
        expect(out.mean_n).toBeCloseTo(ns.reduce((s, n) => s + n, 0) / ns.length, 9);
        expect(out.min_n).toBe(Math.min(...ns));
        expect(out.max_n).toBe(Math.max(...ns));
        expect(out.median_n).toBe(nearestRank(ns, 0.5));
        expect(out.tails).toEqual([0, 0.9, 0.99, 1].map((q) => nearestRank(ns, q)));
        const kinds = [...new Set(rows.map((r) => r.kind))].sort();
        expect(out.by_kind).toEqual(
          kinds.map((k) => ({ key: k, count: rows.filter((r) => r.kind === k).length })),
        );
        expect(out.mean_by_kind.map((e) => e.key)).toEqual(kinds);
      }),
    );
  });

  it('lists count-by keys in ascending order, numbers numerically', () => {
    const out = resultOf(
      countBy((n: number) => n),
      [10, 9, 100, 9, 2],
    );
    expect(out).toEqual([
      { key: 2, count: 1 },
      { key: 9, count: 2 },
      { key: 10, count: 1 },
      { key: 100, count: 1 },
    ]);
  });

  it('lists keys of both types in one order whatever order they came in: numbers, then strings', () => {
    const agg = countBy((k: string | number) => k);
    const order = (keys: (string | number)[]) => resultOf(agg, keys).map((r) => r.key);
    for (const keys of [
      [10, 9, '5', Number.NaN],
      ['5', Number.NaN, 10, 9],
      [9, '5', 10, Number.NaN],
    ]) {
      expect(order(keys)).toEqual([9, 10, Number.NaN, '5']);
    }
    const grouped = groupBy((k: string | number) => k, count());
    expect(resultOf(grouped, ['b', 2, 'a', 10]).map((r) => r.key)).toEqual([2, 10, 'a', 'b']);
  });

  it('gives null means, extremes and quantiles for an empty window, and zero counts', () => {
    expect(resultOf(spec, [])).toEqual({
      total: 0,
      positives: 0,
      by_kind: [],
      by_sign: [],
      sum_n: 0,
      mean_n: null,
      min_n: null,
      max_n: null,
      median_n: null,
      tails: [null, null, null, null],
      mean_by_kind: [],
    });
  });

  it('skips non-finite values in numeric aggregators', () => {
    const values = [1, Number.NaN, 3, Number.POSITIVE_INFINITY];
    expect(
      resultOf(
        mean((n: number) => n),
        values,
      ),
    ).toBe(2);
    expect(
      resultOf(
        sum((n: number) => n),
        values,
      ),
    ).toBe(4);
    expect(
      resultOf(
        max((n: number) => n),
        values,
      ),
    ).toBe(3);
    expect(
      resultOf(
        median((n: number) => n),
        values,
      ),
    ).toBe(1);
  });

  it('gives fresh state from init, so two windows never share an accumulator', () => {
    const first = spec.init();
    spec.add(first, { kind: 'a', n: 5 });
    expect(spec.result(spec.init()).total).toBe(0);
    expect(spec.result(spec.init()).by_kind).toEqual([]);
  });

  it('reshapes results with mapResult while folding the same way', () => {
    const perKind = mapResult(
      countBy((r: Row) => r.kind),
      (rows) => rows.map(({ key, count: n }) => ({ kind: key, rows: n })),
    );
    expect(
      resultOf(perKind, [
        { kind: 'b', n: 1 },
        { kind: 'a', n: 1 },
        { kind: 'b', n: 2 },
      ]),
    ).toEqual([
      { kind: 'a', rows: 1 },
      { kind: 'b', rows: 2 },
    ]);
  });

  it('refuses a quantile outside [0, 1]', () => {
    expect(() => quantiles((n: number) => n, [1.5])).toThrow(/between 0 and 1/);
  });
});
