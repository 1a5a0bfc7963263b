import { describe, expect, it } from 'vitest';
import {
  type Batch,
  count,
  countBy,
  createPipeline,
  type EventTimeOptions,
  type FinalWindow,
  metrics,
  type PartialAggregate,
  parsePartial,
  quantiles,
  reject,
  sum,
  tumblingWindow,
} from '../src/index';
import { memorySource } from '../src/testing/index';

const H = 3_600_000;

interface Rec {
  readonly t: number;
  readonly team: string;
  readonly v: number;
}

const spec = metrics({
  n: count(),
  v: sum((r: Rec) => r.v),
  by_team: countBy((r: Rec) => r.team),
  p: quantiles((r: Rec) => r.v, [0.5, 0.9]),
});

const eventTime: EventTimeOptions<Rec> = {
  timestamp: (r) => r.t,
  windows: [
    tumblingWindow({ name: 'hourly', size: '1h', metrics: spec }),
    tumblingWindow({ name: 'daily', size: '24h', metrics: spec }),
  ],
  allowedLateness: 0,
  idleTimeout: '1m',
};

const decode = (line: string) => (line === 'bad' ? reject('bad line') : (JSON.parse(line) as Rec));

/** Three lanes of records in hour order with some disorder, and an invalid line. */
function lanes(): Array<{ lane: string; values: string[] }> {
  const teams = ['a', 'b', 'c'];
  return ['src/0', 'src/1', 'src/2'].map((lane, l) => ({
    lane,
    values: Array.from({ length: 40 }, (_, i) => {
      if (i === 17 && l === 1) return 'bad';
      const hour = Math.floor(i / 8) + (i % 5 === 0 ? -1 : 0) + 0.5;
      return JSON.stringify({
        t: Math.max(hour, 0.1) * H + l,
        team: teams[(i + l) % 3],
        v: (i * 7 + l) % 13,
      });
    }),
  }));
}

function collect() {
  const batches: Batch<unknown>[] = [];
  return {
    batches,
    sink: {
      write: async (batch: Batch<unknown>) => {
        batches.push(batch);
      },
      describe: (id: number) => `memory:${id}`,
    },
  };
}

const windowsOf = (batches: Batch<unknown>[]) =>
  batches
    .flatMap((b) => b.windows ?? [])
    .map((w: FinalWindow) => [w.name, w.windowStart.getTime() / H, w.records, w.metrics])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])) || (a[1] as number) - (b[1] as number));

describe('partial and merge stages', () => {
  it('give, through two partial processors and a merger, what one final processor gives', async () => {
    const input = lanes();
    // One final processor over every lane, each lane's records in three chunks.
    const chunks = input.flatMap(({ lane, values }) =>
      [0, 14, 28].map((from) => ({ lane, values: values.slice(from, from + 14), offset: from })),
    );
    const single = collect();
    await createPipeline({
      source: memorySource(chunks),
      decode,
      metrics: spec,
      sink: single.sink,
      window: { maxRecords: 30 },
      eventTime,
    }).run();

    // Two partial processors: lanes 0 and 2, and lane 1.
    const partials: PartialAggregate[] = [];
    for (const mine of [['src/0', 'src/2'], ['src/1']]) {
      const out = collect();
      await createPipeline({
        source: memorySource(chunks.filter((c) => mine.includes(c.lane))),
        decode,
        metrics: spec,
        sink: out.sink,
        window: { maxRecords: 20 },
        eventTime,
        stage: 'partial',
      }).run();
      expect(out.batches.every((b) => b.windows === undefined && b.partial !== undefined)).toBe(true);
      partials.push(...out.batches.map((b) => b.partial as PartialAggregate));
    }
    expect(partials.reduce((n, p) => n + p.records, 0)).toBe(119);
    expect(partials.reduce((n, p) => n + p.invalidRecords, 0)).toBe(1);

    // The merger reads the partials as JSON text from one lane, in the order they were made.
    const merged = collect();
    await createPipeline({
      source: memorySource([{ lane: 'partials/0', values: partials.map((p) => JSON.stringify(p)) }]),
      decode: parsePartial,
      metrics: spec,
      sink: merged.sink,
      window: { maxRecords: 1000 },
      eventTime,
      stage: 'merge',
    }).run();
    const total = (batches: Batch<unknown>[]) =>
      batches.reduce<[number, number]>(([n, bad], b) => [n + b.records, bad + b.invalidRecords], [0, 0]);
    expect(total(merged.batches)).toEqual([119, 1]);
    expect(total(single.batches)).toEqual([119, 1]);
    // At the end of the merger's input every window is final: the same windows, counts and metrics.
    const late = (batches: Batch<unknown>[]) => batches.reduce((n, b) => n + (b.lateRecords?.hourly ?? 0), 0);
    const hourly = (batches: Batch<unknown>[]) =>
      windowsOf(batches)
        .filter(([name]) => name === 'hourly')
        .reduce((n, w) => n + (w[2] as number), 0);
    expect(hourly(merged.batches) + late(merged.batches)).toBe(119);
    expect(windowsOf(merged.batches).filter(([name]) => name === 'daily')).toEqual(
      windowsOf(single.batches).filter(([name]) => name === 'daily'),
    );
    // The merger's batch metrics equal the sum of everything.
    const m = merged.batches[0]?.metrics as ReturnType<typeof spec.result>;
    expect(m.n).toBe(119);
    expect(m.by_team.reduce((n, r) => n + r.count, 0)).toBe(119);
  });

  it('counts records without an event time as late for every window, through partials as in one processor', async () => {
    const values = [
      JSON.stringify({ t: 0.5 * H, team: 'a', v: 1 }),
      JSON.stringify({ t: null, team: 'b', v: 2 }),
      JSON.stringify({ t: 1.5 * H, team: 'a', v: 3 }),
      JSON.stringify({ t: 'soon', team: 'c', v: 4 }),
    ];
    const lateOf = (batches: Batch<unknown>[]) =>
      batches.reduce(
        (sum, b) => ({
          hourly: sum.hourly + (b.lateRecords?.hourly ?? 0),
          daily: sum.daily + (b.lateRecords?.daily ?? 0),
        }),
        { hourly: 0, daily: 0 },
      );
    const single = collect();
    await createPipeline({
      source: memorySource([{ lane: 'src/0', values }]),
      decode,
      metrics: spec,
      sink: single.sink,
      eventTime,
    }).run();
    const partial = collect();
    await createPipeline({
      source: memorySource([{ lane: 'src/0', values }]),
      decode,
      metrics: spec,
      sink: partial.sink,
      eventTime,
      stage: 'partial',
    }).run();
    const merged = collect();
    await createPipeline({
      source: memorySource([
        { lane: 'partials/0', values: partial.batches.map((b) => JSON.stringify(b.partial)) },
      ]),
      decode: parsePartial,
      metrics: spec,
      sink: merged.sink,
      eventTime,
      stage: 'merge',
    }).run();
    expect(lateOf(single.batches)).toEqual({ hourly: 2, daily: 2 });
    expect(lateOf(merged.batches)).toEqual(lateOf(single.batches));
  });

  it('computes the watermark over the source lanes named in the partials, not the partials lanes', async () => {
    const partial = (lane: string, hours: number[]): string => {
      const p: PartialAggregate = {
        format: 'ticketflow.partial/1',
        records: hours.length,
        invalidRecords: 0,
        state: { codec: spec.codec?.id ?? '', state: spec.codec?.encode(spec.init()) ?? null },
        range: {},
        windowStart: 0,
        windowEnd: 0,
        eventTime: {
          lanes: { [lane]: [Math.max(...hours) * H, Math.min(...hours) * H] },
          windows: {
            hourly: { codec: spec.codec?.id ?? '', contributions: [] },
            daily: { codec: spec.codec?.id ?? '', contributions: [] },
          },
        },
      };
      return JSON.stringify(p);
    };
    const merged = collect();
    await createPipeline({
      source: memorySource([
        { lane: 'partials/0', values: [partial('src/0', [5, 4]), partial('src/1', [2, 1])] },
      ]),
      decode: parsePartial,
      metrics: spec,
      sink: merged.sink,
      eventTime,
      stage: 'merge',
    }).run();
    // Source lanes 0 (second largest 4h) and 1 (1h): the watermark is their minimum.
    expect(merged.batches[0]?.watermark?.getTime()).toBe(1 * H);
  });

  it('refuses metrics without a codec in a partial stage, naming the member', () => {
    const noCodec = {
      init: () => 0,
      add: (n: number) => n + 1,
      merge: (a: number, b: number) => a + b,
      result: (n: number) => n,
    };
    expect(() =>
      createPipeline({
        source: memorySource([]),
        metrics: metrics({ n: count(), mine: noCodec }),
        sink: collect().sink,
        stage: 'partial',
      }),
    ).toThrow('the metrics of a partial stage cannot be saved: member "mine" has no codec');
  });

  it('sends a message that is not a partial aggregate to the dead letters, with its reason', async () => {
    const letters: string[] = [];
    const merged = collect();
    await createPipeline({
      source: memorySource([{ lane: 'partials/0', values: ['{"format":"other"}', 'not json'] }]),
      decode: parsePartial,
      metrics: spec,
      sink: merged.sink,
      stage: 'merge',
      deadLetters: { write: (l) => void letters.push(l.reason), flush: async () => {} },
    }).run();
    expect(letters).toEqual([
      'not a partial aggregate: expected "format": "ticketflow.partial/1"',
      'not a partial aggregate: invalid JSON',
    ]);
    expect(merged.batches.map((b) => [b.records, b.invalidRecords])).toEqual([[0, 2]]);
  });
});

describe('a merge stage with windows its partials lack', () => {
  it('stops with one line rather than write windows short of records', async () => {
    const partials: PartialAggregate[] = [];
    await createPipeline({
      source: memorySource([{ lane: 'src/0', values: [JSON.stringify({ t: H, team: 'a', v: 1 })] }]),
      decode,
      metrics: spec,
      sink: {
        write: async (b: Batch<unknown>) => void partials.push(b.partial as PartialAggregate),
        describe: () => 'memory',
      },
      stage: 'partial',
    }).run();
    await expect(
      createPipeline({
        source: memorySource([{ lane: 'partials/0', values: partials.map((p) => JSON.stringify(p)) }]),
        decode: parsePartial,
        metrics: spec,
        sink: { write: async () => {}, describe: () => 'memory' },
        eventTime,
        stage: 'merge',
      }).run(),
    ).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining(
        'a partial aggregate has no contribution to windows "hourly", "daily"',
      ),
    });
  });
});
