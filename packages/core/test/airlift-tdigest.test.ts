/**
 * The real-reader check: digests written by `tdigest()` are read, merged and queried by airlift's own
 * `io.airlift.stats.TDigest` (io.airlift:stats 243, the class behind Trino's and Athena's `tdigest`
 * type), through the program in tools/airlift-check, exactly as `value_at_quantile(merge(CAST(
 * from_base64(sla_tdigest) AS tdigest)), q)` computes it. The jar is built here when missing or older
 * than its sources (scripts/setup.sh builds it once, fetching its dependencies); Java 17 and Maven
 * are required.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fold } from '../src/aggregator';
import { tdigest } from '../src/aggregators/tdigest';
import { QuantileSketch } from '../src/internal/quantile-sketch';
import { random } from './support/random';

const toolDir = join(dirname(fileURLToPath(import.meta.url)), '../../../tools/airlift-check');
const jar = join(toolDir, 'target/airlift-check.jar');

const N = 1_000_000;
/** Every 0.1% (which finds the worst spots, next to a heavily repeated value), and the far tails. */
const QUANTILES = [0.0001, ...Array.from({ length: 999 }, (_, i) => (i + 1) / 1000), 0.9999];

function normal(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

const distributions: Record<string, (next: () => number) => number> = {
  uniform: (next) => next() * 100,
  normal: (next) => 50 + 10 * normal(next),
  exponential: (next) => -10 * Math.log(1 - next()),
  // A long tail: the 99th percentile is about 100 times the median.
  lognormal: (next) => Math.exp(1 + 2 * normal(next)),
  // SLA hours: five values, each heavily repeated.
  sla: (next) => {
    const u = next();
    return u < 0.1 ? 4 : u < 0.35 ? 8 : u < 0.75 ? 24 : u < 0.9 ? 48 : 72;
  },
};

/** How many digests each distribution is split into: 20, 24 hourly ones, and for some 2 and 2880. */
const SPLITS: Record<string, readonly number[]> = {
  uniform: [1, 20, 24],
  normal: [1, 20, 24],
  exponential: [1, 20, 24, 2880],
  lognormal: [1, 20, 24],
  // Two daily digests, and a day of 30 s batches.
  sla: [1, 2, 20, 24, 2880],
};

/** The groups, in the order beforeAll makes them. */
const GROUP_NAMES = Object.entries(SPLITS).flatMap(([name, splits]) =>
  splits.map((parts) => `${name}/${parts}`),
);

interface Group {
  readonly name: string;
  readonly sorted: Float64Array;
  readonly digests: string[];
  /** The library's own merge of the digests read back. */
  readonly library: (number | null)[];
}

interface AirliftResult {
  readonly name: string;
  readonly digests: number;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly compression: number;
  readonly centroids: number;
  readonly values: number[];
  readonly serialized?: string;
}

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

/** How far `estimate` is from the `q`-quantile, as a fraction of the values (0 within a run of ties). */
function rankError(sorted: Float64Array, estimate: number, q: number): number {
  const target = q * sorted.length;
  const below = countBelow(sorted, estimate, true);
  const atOrBelow = countBelow(sorted, estimate, false);
  return Math.max(0, below - target, target - atOrBelow) / sorted.length;
}

/** The worst rank error over {@link QUANTILES}, and where. */
function worst(sorted: Float64Array, estimates: readonly (number | null)[]): { error: number; q: number } {
  let error = -1;
  let at = 0;
  QUANTILES.forEach((q, i) => {
    const e = rankError(sorted, estimates[i] as number, q);
    if (e > error) {
      error = e;
      at = q;
    }
  });
  return { error, q: at };
}

function newestSource(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs;
    }),
  );
}

/** Builds the jar when it is missing or older than pom.xml or a source file. */
function buildJar(): void {
  const newest = Math.max(statSync(join(toolDir, 'pom.xml')).mtimeMs, newestSource(join(toolDir, 'src')));
  if (existsSync(jar) && statSync(jar).mtimeMs >= newest) return;
  try {
    // Offline first: scripts/setup.sh fetched the dependencies.
    execFileSync('mvn', ['-q', '-B', '-o', 'package'], { cwd: toolDir, stdio: 'pipe' });
  } catch {
    execFileSync('mvn', ['-q', '-B', 'package'], { cwd: toolDir, stdio: 'pipe' });
  }
}

function airlift(file: string, ...options: string[]): AirliftResult[] {
  const out = execFileSync(
    'java',
    ['-Xmx2g', '-jar', jar, `--quantiles=${QUANTILES.join(',')}`, ...options, file],
    { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return (JSON.parse(out.toString('utf8')) as { results: AirliftResult[] }).results;
}

const sla = tdigest((x: number) => x);
const groups: Group[] = [];
let dir: string;
let merged: AirliftResult[];
let distributed: AirliftResult[];
let single: AirliftResult[];
let small: { values: number[]; result: AirliftResult }[];

beforeAll(() => {
  buildJar();
  dir = mkdtempSync(join(tmpdir(), 'airlift-tdigest-'));
  const lines: string[] = [];
  for (const [name, draw] of Object.entries(distributions)) {
    const next = random(name.length * 7919 + 17);
    const values = new Float64Array(N);
    for (let i = 0; i < N; i++) values[i] = draw(next);
    const sorted = Float64Array.from(values).sort();
    for (const parts of SPLITS[name]!) {
      const digests: string[] = [];
      const library = new QuantileSketch();
      for (let p = 0; p < parts; p++) {
        const part = values.subarray(Math.floor((p * N) / parts), Math.floor(((p + 1) * N) / parts));
        const base64 = sla.result(fold(sla, part))!;
        digests.push(base64);
        library.merge(QuantileSketch.fromTrinoTDigest(base64));
      }
      groups.push({ name: `${name}/${parts}`, sorted, digests, library: library.quantiles(QUANTILES) });
      lines.push(`# ${name}/${parts}`, ...digests);
    }
  }
  const file = join(dir, 'digests.txt');
  writeFileSync(file, `${lines.join('\n')}\n`);
  merged = airlift(file);
  distributed = airlift(file, '--partials=4');
  const wholeDays = groups.filter((g) => g.digests.length === 1);
  const singleFile = join(dir, 'single.txt');
  writeFileSync(singleFile, wholeDays.map((g) => `# ${g.name}\n${g.digests[0]}\n`).join(''));
  single = airlift(singleFile, '--mode=each');
  // Small windows, as exact sketches write them: airlift must read them exactly.
  const next = random(5);
  const windows = [
    [7],
    [1, 4, 4, 24, 72],
    [-3.5, 0, 0, 2.25],
    ...Array.from({ length: 20 }, (_, i) =>
      Array.from({ length: 1 + i * 17 }, () => [4, 8, 24, 48, 72][Math.floor(next() * 5)]!),
    ),
  ];
  const smallFile = join(dir, 'small.txt');
  writeFileSync(smallFile, `${windows.map((w) => sla.result(fold(sla, w))).join('\n')}\n`);
  small = airlift(smallFile, '--mode=each').map((result, i) => ({ values: windows[i]!, result }));
}, 600_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  // AIRLIFT_TDIGEST_REPORT=1 prints the figures the documentation quotes.
  if (process.env.AIRLIFT_TDIGEST_REPORT && merged !== undefined) {
    const percent = (e: number) => `${(e * 100).toFixed(3)}%`;
    console.table(
      groups.map((g, i) => ({
        group: g.name,
        'airlift merge': percent(worst(g.sorted, merged[i]!.values).error),
        'airlift, 4 partials': percent(worst(g.sorted, distributed[i]!.values).error),
        library: percent(worst(g.sorted, g.library).error),
        'merged centroids': merged[i]!.centroids,
        'bytes per digest': Math.round(
          g.digests.reduce((sum, d) => sum + (d.length * 3) / 4, 0) / g.digests.length,
        ),
      })),
    );
  }
});

describe("airlift's TDigest reads and merges the digests", () => {
  it('covers every group, with the compression written', () => {
    expect(groups.map((g) => g.name)).toEqual(GROUP_NAMES);
    expect(merged.map((r) => r.name)).toEqual(GROUP_NAMES);
    expect(merged.map((r) => r.digests)).toEqual(groups.map((g) => g.digests.length));
    for (const r of merged) expect(r.compression).toBe(5000);
  });

  describe.each(GROUP_NAMES.map((name, i) => [name, i] as const))('%s', (name, i) => {
    it('merges to the exact count, min and max', () => {
      const group = groups[i]!;
      const result = merged[i]!;
      expect(result.count).toBe(N);
      expect(result.min).toBe(group.sorted[0]);
      expect(result.max).toBe(group.sorted[N - 1]);
    });

    it('answers value_at_quantile(merge(...)) within 1% of rank', () => {
      const { error, q } = worst(groups[i]!.sorted, merged[i]!.values);
      expect(error, `${name}: worst at q = ${q}`).toBeLessThan(0.01);
    });

    it('answers within 1% of rank when the merge is distributed over 4 partial aggregations', () => {
      expect(distributed[i]!.count).toBe(N);
      const { error, q } = worst(groups[i]!.sorted, distributed[i]!.values);
      expect(error, `${name}: worst at q = ${q}`).toBeLessThan(0.01);
    });

    it("agrees with the library's own merge of the digests read back, also within 1% of rank", () => {
      const { error, q } = worst(groups[i]!.sorted, groups[i]!.library);
      expect(error, `${name}: worst at q = ${q}`).toBeLessThan(0.01);
    });

    it("reads back airlift's merged digest", () => {
      const back = QuantileSketch.fromTrinoTDigest(merged[i]!.serialized!);
      expect([back.count, back.min, back.max]).toEqual([N, merged[i]!.min, merged[i]!.max]);
      const { error } = worst(groups[i]!.sorted, back.quantiles(QUANTILES));
      expect(error).toBeLessThan(0.01);
    });
  });

  it('answers value_at_quantile of one whole-day digest, unmerged, within 1% of rank', () => {
    const wholeDays = groups.filter((g) => g.digests.length === 1);
    expect(single).toHaveLength(wholeDays.length);
    wholeDays.forEach((group, i) => {
      expect(single[i]!.count).toBe(N);
      const { error, q } = worst(group.sorted, single[i]!.values);
      expect(error, `${group.name}: worst at q = ${q}`).toBeLessThan(0.01);
    });
  });

  it('reads small exact windows exactly: each answer is a value whose ranks hold the quantile', () => {
    expect(small).toHaveLength(23);
    for (const { values, result } of small) {
      const sorted = Float64Array.from(values).sort();
      expect(result.count).toBe(values.length);
      QUANTILES.forEach((q, j) => {
        expect(sorted, `q = ${q} of [${values.join(', ')}]`).toContain(result.values[j]);
        expect(rankError(sorted, result.values[j]!, q), `q = ${q} of [${values.join(', ')}]`).toBe(0);
      });
    }
  });
});
