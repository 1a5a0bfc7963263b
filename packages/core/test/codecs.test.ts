/**
 * The state codecs of the aggregators: laws checked with fast-check for every built-in aggregator and
 * for composed ones, then the shapes refused, the ids, and the errors naming a missing codec.
 *
 * Every state is sent through `JSON.stringify`/`JSON.parse` before it is decoded, as a checkpoint
 * would, so that what JSON cannot hold (-0, NaN, ±Infinity) is caught.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as core from '../src/index';
import {
  type Aggregator,
  type AnyAggregator,
  count,
  countBy,
  decodeState,
  encodeState,
  fold,
  groupBy,
  InvalidOptionError,
  mapResult,
  max,
  mean,
  median,
  metrics,
  min,
  quantile,
  quantiles,
  type StateData,
  stateCodecOf,
  sum,
  TicketflowError,
} from '../src/index';

interface Row {
  readonly kind: string;
  readonly team: number;
  /** A key of either type, including the numbers JSON cannot hold. */
  readonly key: string | number;
  readonly n: number;
}

const kind = fc.constantFrom('a', 'b', 'c', 'Billing Team', '', 'NaN', '1');
const team = fc.integer({ min: -2, max: 4 });
const mixedKey = fc.oneof(kind, team, fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -1.5));
const special = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);

/** Values whose sums are exact in any order (so merges equal folds exactly), and no -0. */
const intN = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: -1000, max: 1000 }) },
  { weight: 1, arbitrary: special },
);
/** As {@link intN}, plus -0: `min`/`max` then keep whichever of 0 and -0 came first. */
const exactN = fc.oneof({ weight: 8, arbitrary: intN }, { weight: 1, arbitrary: fc.constant(-0) });
/** Any double, with huge values so that totals overflow to ±Infinity (and merge to NaN). */
const anyN = fc.oneof(
  { weight: 6, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom(1.7e308, -1.7e308, -0, 0.1, 0.2) },
  { weight: 1, arbitrary: special },
);

const rowOf = (n: fc.Arbitrary<number>): fc.Arbitrary<Row> => fc.record({ kind, team, key: mixedKey, n });
const rows = (n: fc.Arbitrary<number>) => fc.array(rowOf(n), { maxLength: 40 });

/** An aggregator under test. */
interface Case {
  readonly name: string;
  readonly aggregator: AnyAggregator;
  /** Its codec id, when the codec is one of these; `undefined` for the sketches' (another module's). */
  readonly id: string | undefined;
  /** Merging folds gives exactly the fold of the whole (for the inputs of {@link exactN}). */
  readonly exact: boolean;
  /**
   * The codec is one of the codecs of this module's aggregators: decoding accepts only canonical data
   * (what it accepts re-encodes to the same bytes), and for {@link intN} inputs, folding in any order
   * gives the same bytes.
   */
  readonly canonical: boolean;
}

const byTeam = groupBy(
  (r: Row) => r.team,
  metrics({ total: count(), n: sum((r: Row) => r.n), lo: min((r: Row) => r.n) }),
);
const everything = metrics({
  total: count(),
  positives: count((r: Row) => r.n > 0),
  by_kind: countBy((r: Row) => r.kind),
  by_key: countBy((r: Row) => r.key),
  sum_n: sum((r: Row) => r.n),
  mean_n: mean((r: Row) => r.n),
  min_n: min((r: Row) => r.n),
  max_n: max((r: Row) => r.n),
  mean_by_kind: groupBy(
    (r: Row) => r.kind,
    mean((r: Row) => r.n),
  ),
  by_team: byTeam,
  renamed: mapResult(
    countBy((r: Row) => r.team),
    (out) => out.map(({ key, count: n }) => ({ team: key, n })),
  ),
});
const EVERYTHING_ID =
  'metrics/1(total:count/1,positives:count/1,by_kind:countBy/1,by_key:countBy/1,sum_n:sum/1,' +
  'mean_n:mean/1,min_n:min/1,max_n:max/1,mean_by_kind:groupBy/1(mean/1),' +
  'by_team:groupBy/1(metrics/1(total:count/1,n:sum/1,lo:min/1)),renamed:countBy/1)';

const own = (name: string, aggregator: AnyAggregator, id: string): Case => ({
  name,
  aggregator,
  id,
  exact: true,
  canonical: true,
});

const cases: Case[] = [
  own('count', count(), 'count/1'),
  own(
    'count with where',
    count((r: Row) => r.n > 0),
    'count/1',
  ),
  own(
    'sum',
    sum((r: Row) => r.n),
    'sum/1',
  ),
  own(
    'mean',
    mean((r: Row) => r.n),
    'mean/1',
  ),
  own(
    'min',
    min((r: Row) => r.n),
    'min/1',
  ),
  own(
    'max',
    max((r: Row) => r.n),
    'max/1',
  ),
  own(
    'countBy, string keys',
    countBy((r: Row) => r.kind),
    'countBy/1',
  ),
  own(
    'countBy, number keys',
    countBy((r: Row) => r.team),
    'countBy/1',
  ),
  own(
    'countBy, mixed keys with NaN and Infinity',
    countBy((r: Row) => r.key),
    'countBy/1',
  ),
  own(
    'groupBy with mean',
    groupBy(
      (r: Row) => r.kind,
      mean((r: Row) => r.n),
    ),
    'groupBy/1(mean/1)',
  ),
  own(
    'groupBy on mixed keys with max',
    groupBy(
      (r: Row) => r.key,
      max((r: Row) => r.n),
    ),
    'groupBy/1(max/1)',
  ),
  own(
    'groupBy with countBy',
    groupBy(
      (r: Row) => r.team,
      countBy((r: Row) => r.kind),
    ),
    'groupBy/1(countBy/1)',
  ),
  own('groupBy with metrics', byTeam, 'groupBy/1(metrics/1(total:count/1,n:sum/1,lo:min/1))'),
  own('metrics of everything', everything, EVERYTHING_ID),
  own(
    'mapResult of metrics',
    mapResult(everything, (out) => out.total),
    EVERYTHING_ID,
  ),
  own('metrics of nothing', metrics({}), 'metrics/1()'),
];

// The sketches' codecs are another module's: included once they exist.
const sketches: Array<[string, AnyAggregator, boolean]> = [
  ['median', median((r: Row) => r.n), true],
  ['quantile', quantile((r: Row) => r.n, 0.9), true],
  ['quantiles', quantiles((r: Row) => r.n, [0, 0.5, 0.99, 1]), true],
];
const tdigest = (core as Record<string, unknown>).tdigest;
if (typeof tdigest === 'function') {
  try {
    sketches.push(['tdigest', tdigest((r: Row) => r.n) as AnyAggregator, false]);
  } catch {
    // A signature other than tdigest(value): left to tdigest's own tests.
  }
}
for (const [name, aggregator, exact] of sketches) {
  if (aggregator.codec === undefined) continue;
  cases.push({ name, aggregator, id: undefined, exact, canonical: false });
  cases.push({
    name: `metrics with ${name}`,
    aggregator: metrics({
      total: count(),
      sketch: aggregator,
      by_kind: groupBy((r: Row) => r.kind, aggregator),
    }),
    id: undefined,
    exact,
    canonical: false,
  });
}

const bytes = (data: StateData): string => JSON.stringify(data);
/** What a checkpoint gives back. */
const saved = (data: StateData): StateData => JSON.parse(JSON.stringify(data)) as StateData;

function addAll<Acc>(aggregator: Aggregator<Row, Acc, unknown>, acc: Acc, inputs: readonly Row[]): Acc {
  for (const input of inputs) acc = aggregator.add(acc, input);
  return acc;
}

/** Checks that `fn` throws a one-line `INVALID_STATE` error, and returns its message. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TicketflowError);
    expect((error as TicketflowError).code).toBe('INVALID_STATE');
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected the state to be refused');
}

/** Every path to a value inside `data`. */
function pathsOf(data: StateData, prefix: readonly (string | number)[] = []): (string | number)[][] {
  const here = [[...prefix]];
  if (Array.isArray(data)) return [...here, ...data.flatMap((d, i) => pathsOf(d, [...prefix, i]))];
  if (typeof data === 'object' && data !== null)
    return [...here, ...Object.entries(data).flatMap(([k, d]) => pathsOf(d, [...prefix, k]))];
  return here;
}

/** `data` with the value at `path` replaced (a copy). */
function replaced(data: StateData, path: readonly (string | number)[], value: StateData): StateData {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(data)) return data.map((d, i) => (i === head ? replaced(d, rest, value) : d));
  const object = data as { readonly [key: string]: StateData };
  return { ...object, [head]: replaced(object[head] as StateData, rest, value) };
}

/** A value to put in a saved state: often one that is nearly right. */
const replacement = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom<StateData>(0, 1, -1, 2, 1.5, 2 ** 53, '-0', 'NaN', 'Infinity', 'a', '', null, true, [], {}),
  fc.constantFrom<StateData>([0, 0], [1, 1], [['a', 1]], [[1, 1]], [[{ number: 'NaN' }, 1]], {
    number: 'NaN',
  }),
);

describe.each(cases.map((c) => [c.name, c] as const))('the codec of %s', (_name, c) => {
  const agg = c.aggregator;
  const codec = agg.codec as NonNullable<AnyAggregator['codec']>;

  it('exists, with its id', () => {
    expect(codec).toBeDefined();
    if (c.id !== undefined) expect(codec.id).toBe(c.id);
    expect(stateCodecOf(agg, 'the metrics')).toBe(codec);
  });

  it('decodes to a state that behaves as the original: same result, same adds, same merges', () => {
    fc.assert(
      fc.property(rows(anyN), rows(anyN), rows(anyN), rows(anyN), (x1, x2, y, z) => {
        const original = agg.merge(fold(agg, x1), fold(agg, x2));
        const data = saved(codec.encode(original));
        const copy = codec.decode(data);
        expect(agg.result(copy)).toEqual(agg.result(original));
        expect(bytes(codec.encode(copy))).toBe(bytes(codec.encode(original)));
        // As the right-hand side of a merge (the decoded state must be left as it was).
        expect(agg.result(agg.merge(fold(agg, z), codec.decode(data)))).toEqual(
          agg.result(agg.merge(fold(agg, z), agg.merge(fold(agg, x1), fold(agg, x2)))),
        );
        // Further adds, then a merge, on both.
        const a = agg.merge(addAll(agg, original, y), fold(agg, z));
        const b = agg.merge(addAll(agg, copy, y), fold(agg, z));
        expect(agg.result(b)).toEqual(agg.result(a));
        expect(bytes(codec.encode(b))).toBe(bytes(codec.encode(a)));
      }),
    );
  });

  it('merges a decoded fold of x with a fold of y as the fold of x ++ y', () => {
    fc.assert(
      fc.property(rows(exactN), rows(exactN), (x, y) => {
        const left = agg.result(agg.merge(codec.decode(saved(codec.encode(fold(agg, x)))), fold(agg, y)));
        const right = agg.result(agg.merge(fold(agg, x), codec.decode(saved(codec.encode(fold(agg, y))))));
        const merged = agg.result(agg.merge(fold(agg, x), fold(agg, y)));
        expect(left).toEqual(merged);
        expect(right).toEqual(merged);
        if (c.exact) expect(left).toEqual(agg.result(fold(agg, [...x, ...y])));
      }),
    );
  });

  it('encodes the same input to the same bytes, without changing the state', () => {
    fc.assert(
      fc.property(rows(anyN), (x) => {
        const acc = fold(agg, x);
        const before = agg.result(acc);
        const first = bytes(codec.encode(acc));
        expect(bytes(codec.encode(fold(agg, x)))).toBe(first);
        expect(bytes(codec.encode(acc))).toBe(first);
        expect(agg.result(acc)).toEqual(before);
        expect(bytes(saved(codec.encode(acc)))).toBe(first);
      }),
    );
  });

  it('shares nothing between a state and its data', () => {
    fc.assert(
      fc.property(
        rows(anyN),
        rows(anyN).filter((y) => y.length > 0),
        (x, y) => {
          const acc = fold(agg, x);
          const data = codec.encode(acc);
          const text = bytes(data);
          addAll(agg, acc, y);
          expect(bytes(data)).toBe(text);
          const copy = codec.decode(data);
          addAll(agg, copy, y);
          agg.merge(copy, fold(agg, y));
          expect(bytes(data)).toBe(text);
        },
      ),
    );
  });

  if (c.canonical) {
    it('encodes equal content to equal bytes whatever the order of the inputs', () => {
      const permuted = rows(intN).chain((x) =>
        fc.tuple(fc.constant(x), fc.shuffledSubarray(x, { minLength: x.length, maxLength: x.length })),
      );
      fc.assert(
        fc.property(permuted, ([x, shuffled]) => {
          expect(bytes(codec.encode(fold(agg, shuffled)))).toBe(bytes(codec.encode(fold(agg, x))));
        }),
      );
    });
  }

  it('refuses any other data with INVALID_STATE, and accepts only its own encodings', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const data = saved(value as StateData);
        let acc: unknown;
        try {
          acc = codec.decode(data);
        } catch {
          refusal(() => codec.decode(data));
          return;
        }
        if (c.canonical) expect(bytes(codec.encode(acc))).toBe(bytes(data));
      }),
    );
  });

  it('refuses a saved state with one part replaced, unless it is still a state', () => {
    fc.assert(
      fc.property(fc.array(rowOf(anyN), { maxLength: 6 }), fc.nat(), replacement, (x, pick, value) => {
        const data = saved(codec.encode(fold(agg, x)));
        const paths = pathsOf(data);
        const path = paths[pick % paths.length] as (string | number)[];
        const broken = saved(replaced(data, path, value as StateData));
        let acc: unknown;
        try {
          acc = codec.decode(broken);
        } catch {
          refusal(() => codec.decode(broken));
          return;
        }
        if (c.canonical) expect(bytes(codec.encode(acc))).toBe(bytes(broken));
      }),
    );
  });
});

describe('the codecs of the built-in aggregators', () => {
  const byKind = countBy((r: Row) => r.kind);

  it.each([
    [
      'count/1',
      count(),
      [-1, 1.5, '3', null, [], {}, 2 ** 53, true],
      /^invalid count\/1 state: expected a count/,
    ],
    [
      'sum/1',
      sum((r: Row) => r.n),
      [null, 'abc', '1', [], {}, true],
      /^invalid sum\/1 state: expected a total/,
    ],
    [
      'mean/1',
      mean((r: Row) => r.n),
      [[1, 0], [1], [1, -1], [1, 1.5], ['x', 1], [1, 2, 3], { total: 1, count: 1 }, 3, null],
      /^invalid mean\/1 state: expected a mean state/,
    ],
    [
      'min/1',
      min((r: Row) => r.n),
      ['NaN', 'Infinity', '-Infinity', '1', [], {}, true],
      /^invalid min\/1 state: expected a finite number, or null/,
    ],
    [
      'max/1',
      max((r: Row) => r.n),
      ['Infinity', [1], false],
      /^invalid max\/1 state: expected a finite number/,
    ],
    [
      'countBy/1',
      byKind,
      [
        {},
        3,
        null,
        [['a', 0]],
        [['a', -1]],
        [['a', 1.5]],
        [
          ['b', 1],
          ['a', 1],
        ],
        [
          ['a', 1],
          ['a', 1],
        ],
        [
          ['1', 1],
          [1, 1],
        ],
        [[true, 1]],
        [[null, 1]],
        [['a', 1, 2]],
        [['a']],
        ['a', 1],
        [[{ number: 'x' }, 1]],
        [[{ number: 'NaN', x: 1 }, 1]],
        [[{ number: 3 }, 1]],
      ],
      /^invalid countBy\/1 state: expected /,
    ],
  ] as const)('%s refuses bad data, naming what it expected', (_id, aggregator, bad, message) => {
    for (const data of bad) {
      expect(
        refusal(() => (aggregator as AnyAggregator).codec?.decode(data as StateData)),
        JSON.stringify(data),
      ).toMatch(message);
    }
  });

  it('refuses a quantile sketch state whose parts are objects that cannot be printed', () => {
    // Found by the property above (seed 1972558726): a mode of {"toString": ""} made the message throw.
    const agg = quantiles((r: Row) => r.n, [0.5]);
    const data = saved(agg.codec?.encode(fold(agg, [{ kind: 'a', team: 0, key: 0, n: 0 }])) as StateData);
    for (const part of ['mode', 'version', 'compression', 'means', 'min']) {
      const broken = { ...(data as Record<string, StateData>), [part]: { toString: '' } };
      expect(refusal(() => agg.codec?.decode(broken))).toMatch(/^invalid quantiles\/1 state: /);
    }
  });

  it('keeps the type of count-by keys, and the numbers JSON cannot hold', () => {
    const agg = countBy((k: string | number) => k);
    const acc = fold(agg, [
      '1',
      1,
      1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      'NaN',
      -0,
    ]);
    const data = agg.codec?.encode(acc) as StateData;
    expect(data).toEqual([
      [{ number: '-Infinity' }, 1],
      [0, 1],
      [1, 2],
      [{ number: 'Infinity' }, 1],
      [{ number: 'NaN' }, 1],
      ['1', 1],
      ['NaN', 1],
    ]);
    expect(agg.result(agg.codec?.decode(saved(data)) as Map<string | number, number>)).toEqual(
      agg.result(acc),
    );
    expect(agg.result(acc).map((r) => r.key)).toEqual([
      Number.NEGATIVE_INFINITY,
      0,
      1,
      Number.POSITIVE_INFINITY,
      Number.NaN,
      '1',
      'NaN',
    ]);
  });

  it('saves -0, overflowed totals and empty windows exactly', () => {
    const lo = min((n: number) => n);
    const negativeZero = lo.codec?.decode(saved(lo.codec.encode(fold(lo, [-0, 0])))) as {
      value: number | null;
    };
    expect(Object.is(lo.result(negativeZero), -0)).toBe(true);
    expect(lo.codec?.encode(fold(lo, []))).toBeNull();

    const total = sum((n: number) => n);
    const infinite = total.merge(fold(total, [1.7e308, 1.7e308]), fold(total, [-1.7e308, -1.7e308]));
    expect(total.result(infinite)).toBeNaN();
    expect(total.codec?.encode(infinite)).toBe('NaN');
    expect(total.codec?.encode(fold(total, [1.7e308, 1.7e308]))).toBe('Infinity');
    expect(total.result(total.codec?.decode('-Infinity') as { total: number })).toBe(
      Number.NEGATIVE_INFINITY,
    );

    const avg = mean((n: number) => n);
    expect(avg.codec?.encode(fold(avg, [1, 2, Number.NaN]))).toEqual([3, 2]);
    expect(avg.codec?.encode(fold(avg, []))).toEqual([0, 0]);
    expect(count().codec?.encode(7)).toBe(7);
  });

  it('names the member and key of a composite state it refuses', () => {
    const spec = metrics({
      total: count(),
      by_kind: countBy((r: Row) => r.kind),
      by_team: groupBy((r: Row) => r.team, metrics({ n: sum((r: Row) => r.n) })),
      mean_by_kind: groupBy(
        (r: Row) => r.kind,
        mean((r: Row) => r.n),
      ),
    });
    const decode = (data: StateData) => () => spec.codec?.decode(data);
    expect(refusal(decode([1, [], []]))).toBe(
      'invalid metrics state: expected an array of 4 member states, got [1,[],[]]',
    );
    expect(refusal(decode({ total: 1 }))).toMatch(
      /^invalid metrics state: expected an array of 4 member states/,
    );
    expect(refusal(decode([-1, [], [], []]))).toBe(
      'invalid count/1 state at total: expected a count (a non-negative integer), got -1',
    );
    expect(refusal(decode([1, [['a', 0]], [], []]))).toBe(
      'invalid countBy/1 state at by_kind: expected a positive integer count for key ["a"], got 0',
    );
    expect(refusal(decode([1, [], [[3, ['x']]], []]))).toBe(
      'invalid sum/1 state at by_team[3].n: expected a total (a number), got "x"',
    );
    expect(refusal(decode([1, [], [[3]], []]))).toBe(
      'invalid groupBy state at by_team: expected [key, state] pairs, got [3]',
    );
    expect(refusal(decode([1, [], [], [['a', [1, 0]]]]))).toMatch(
      /^invalid mean\/1 state at mean_by_kind\["a"\]: expected a mean state/,
    );
  });

  it('quotes member names that hold the id syntax, so that ids stay unambiguous', () => {
    const spec = metrics({ 'a,b:count/1': count(), 'x y': sum((r: Row) => r.n), 'f(x)': count() });
    expect(spec.codec?.id).toBe('metrics/1("a,b:count/1":count/1,"x y":sum/1,"f(x)":count/1)');
    expect(metrics({ a: count(), b: sum((r: Row) => r.n) }).codec?.id).not.toBe(
      metrics({ b: sum((r: Row) => r.n), a: count() }).codec?.id,
    );
  });

  it('gives min and max distinct ids, so that one state is never read as the other', () => {
    expect(min((n: number) => n).codec?.id).toBe('min/1');
    expect(max((n: number) => n).codec?.id).toBe('max/1');
  });
});

describe('encodeState and decodeState', () => {
  const spec = metrics({ total: count(), by_kind: countBy((r: Row) => r.kind) });
  const codec = stateCodecOf(spec, 'the metrics');
  const input: Row[] = [
    { kind: 'b', team: 1, key: 'x', n: 1 },
    { kind: 'a', team: 1, key: 'x', n: 2 },
    { kind: 'b', team: 2, key: 'y', n: 3 },
  ];

  it('tags a state with its codec id and restores it', () => {
    const state = encodeState(codec, fold(spec, input));
    expect(state).toEqual({
      codec: 'metrics/1(total:count/1,by_kind:countBy/1)',
      state: [
        3,
        [
          ['a', 1],
          ['b', 2],
        ],
      ],
    });
    expect(spec.result(decodeState(codec, saved(state)))).toEqual(spec.result(fold(spec, input)));
  });

  it('refuses a state saved by another aggregator, saying the aggregator changed', () => {
    const before = metrics({ total: count() });
    const state = saved(encodeState(stateCodecOf(before, 'the metrics'), fold(before, input)));
    expect(refusal(() => decodeState(codec, state, 'the metrics of window "hourly"'))).toBe(
      'cannot restore the metrics of window "hourly": the aggregator changed since the state was saved ' +
        '(saved as metrics/1(total:count/1), now metrics/1(total:count/1,by_kind:countBy/1))',
    );
  });

  it('refuses what is not a saved state, and names where a bad one is bad', () => {
    for (const bad of [null, 3, 'x', [], { state: [] }, { codec: codec.id }, { codec: 1, state: [] }]) {
      expect(refusal(() => decodeState(codec, bad as StateData))).toMatch(
        /^cannot restore the state: expected an object with "codec" and "state", got /,
      );
    }
    expect(
      refusal(() => decodeState(codec, { codec: codec.id, state: [1, [['a', 'x']]] }, 'the window')),
    ).toBe(
      'cannot restore the window: invalid countBy/1 state at by_kind: expected a positive integer count for key ["a"], got "x"',
    );
  });
});

describe('stateCodecOf', () => {
  /** A user-written aggregator without a codec. */
  const p95: Aggregator<Row, number[], number> = {
    init: () => [],
    add: (acc, r) => {
      acc.push(r.n);
      return acc;
    },
    merge: (a, b) => {
      a.push(...b);
      return a;
    },
    result: (acc) => acc.length,
  };
  const label = 'the metrics of window "hourly"';
  const message = (aggregator: AnyAggregator): string => {
    try {
      stateCodecOf(aggregator, label);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).code).toBe('INVALID_OPTION');
      return (error as Error).message;
    }
    throw new Error('expected stateCodecOf to throw');
  };

  it('names the member of a metrics spec that has no codec', () => {
    const spec = metrics({ total: count(), p95 });
    expect(spec.codec).toBeUndefined();
    expect(spec.codecMissingAt).toBe('p95');
    expect(message(spec)).toBe(
      'the metrics of window "hourly" cannot be saved: member "p95" has no codec; give that aggregator a codec',
    );
  });

  it('names the first such member in spec order', () => {
    expect(metrics({ total: count(), first: p95, second: p95 }).codecMissingAt).toBe('first');
  });

  it('names a member nested in groupBy and metrics, and passes through mapResult', () => {
    const nested = metrics({
      total: count(),
      by_team: groupBy((r: Row) => r.team, metrics({ n: count(), p95 })),
    });
    expect(nested.codec).toBeUndefined();
    expect(message(nested)).toBe(
      'the metrics of window "hourly" cannot be saved: member "by_team[key].p95" has no codec; give that aggregator a codec',
    );
    const reshaped = mapResult(nested, (out) => out.total);
    expect(reshaped.codec).toBeUndefined();
    expect(reshaped.codecMissingAt).toBe('by_team[key].p95');
    expect(metrics({ wrapped: mapResult(p95, (n) => n + 1) }).codecMissingAt).toBe('wrapped');
    expect(groupBy((r: Row) => r.kind, p95).codecMissingAt).toBe('[key]');
    expect(message(groupBy((r: Row) => r.kind, p95))).toBe(
      'the metrics of window "hourly" cannot be saved: member "[key]" has no codec; give that aggregator a codec',
    );
  });

  it('says so when the aggregator itself has no codec', () => {
    expect(message(p95)).toBe(
      'the metrics of window "hourly" cannot be saved: the aggregator has no codec; give it a codec',
    );
    expect(message(mapResult(p95, (n) => n))).toBe(
      'the metrics of window "hourly" cannot be saved: the aggregator has no codec; give it a codec',
    );
  });

  it('uses a codec the user wrote, and composes it', () => {
    const withCodec: Aggregator<Row, number[], number> = {
      ...p95,
      codec: {
        id: 'values/1',
        encode: (acc) => [...acc],
        decode: (data) => {
          if (!Array.isArray(data) || !data.every((v) => typeof v === 'number'))
            throw new TicketflowError('INVALID_STATE', 'expected an array of numbers');
          return [...(data as number[])];
        },
      },
    };
    const spec = metrics({ total: count(), p95: withCodec });
    expect(stateCodecOf(spec, label).id).toBe('metrics/1(total:count/1,p95:values/1)');
    expect(spec.codecMissingAt).toBeUndefined();
    const acc = stateCodecOf(spec, label).decode([2, [1, 2]]);
    expect(spec.result(acc)).toEqual({ total: 2, p95: 2 });
    expect(refusal(() => spec.codec?.decode([2, ['x']]))).toBe(
      'invalid values/1 state at p95: expected an array of numbers',
    );
  });
});
