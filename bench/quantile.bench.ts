/**
 * Quantile sketch benchmark: the cost of `QuantileSketch.add` on a million values of several shapes, and
 * of merging 100 partial sketches. Each case runs several times in one process; the table shows the best
 * and the median run, since other processes on the machine only ever make a run slower.
 *
 *   node --import tsx bench/quantile.bench.ts
 */
import { QuantileSketch } from '../packages/core/src/internal/quantile-sketch';
import { random } from '../packages/core/test/support/random';

const N = 1_000_000;
const RUNS = 9;
const PARTS = 100;

function generate(value: (next: () => number, i: number) => number): Float64Array {
  const next = random(42);
  const values = new Float64Array(N);
  for (let i = 0; i < N; i++) values[i] = value(next, i);
  return values;
}

const SLA_HOURS = [1, 4, 24, 72];
const inputs: [string, Float64Array][] = [
  ['uniform random', generate((next) => next())],
  ['exponential', generate((next) => -Math.log(1 - next()))],
  ['sorted ascending', generate((_, i) => i * 0.5)],
  ['sorted descending', generate((_, i) => (N - i) * 0.5)],
  ['4 distinct (exact)', generate((next) => SLA_HOURS[Math.floor(next() * 4)]!)],
  ['1,000 distinct (exact)', generate((next) => Math.floor(next() * 1000))],
];

interface Row {
  readonly case: string;
  readonly unit: string;
  readonly best: number;
  readonly median: number;
  readonly p50: number | null;
  readonly mode: string;
}

function measure(
  run: () => QuantileSketch,
  per: number,
): { best: number; median: number; last: QuantileSketch } {
  const times: number[] = [];
  let last = run();
  for (let r = 0; r < RUNS; r++) {
    const started = process.hrtime.bigint();
    last = run();
    times.push(Number(process.hrtime.bigint() - started) / per);
  }
  times.sort((a, b) => a - b);
  return { best: times[0]!, median: times[Math.floor(times.length / 2)]!, last };
}

const rows: Row[] = [];
for (const [name, values] of inputs) {
  const { best, median, last } = measure(() => {
    const sketch = new QuantileSketch();
    for (let i = 0; i < values.length; i++) sketch.add(values[i]!);
    return sketch;
  }, values.length);
  rows.push({
    case: `add: ${name}`,
    unit: 'ns/value',
    best,
    median,
    p50: last.quantile(0.5),
    mode: mode(last),
  });
}

for (const [name, values] of [inputs[0]!, inputs[4]!]) {
  const size = values.length / PARTS;
  const parts = Array.from({ length: PARTS }, (_, p) => {
    const sketch = new QuantileSketch();
    for (let i = p * size; i < (p + 1) * size; i++) sketch.add(values[i]!);
    return sketch;
  });
  const { best, median, last } = measure(() => {
    const merged = new QuantileSketch();
    for (const part of parts) merged.merge(part);
    return merged;
  }, PARTS * 1000);
  rows.push({
    case: `merge ${PARTS} × ${size.toLocaleString('en')}: ${name}`,
    unit: 'µs/merge',
    best,
    median,
    p50: last.quantile(0.5),
    mode: mode(last),
  });
}

function mode(sketch: QuantileSketch): string {
  return sketch.isExact() ? 'exact' : `digest, ${sketch.toJSON().means.length} centroids`;
}

const header = ['case', 'unit', 'best', 'median', 'p50 (check)', 'mode'];
const table = rows.map((row) => [
  row.case,
  row.unit,
  row.best.toFixed(1),
  row.median.toFixed(1),
  String(row.p50 === null ? null : Number(row.p50.toPrecision(6))),
  row.mode,
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((cells) => cells[i]!.length)));
const line = (cells: string[]): string =>
  cells.map((cell, i) => (i >= 2 && i <= 3 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
console.log(`QuantileSketch, ${N.toLocaleString('en')} values per case, best and median of ${RUNS} runs`);
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const cells of table) console.log(line(cells));
