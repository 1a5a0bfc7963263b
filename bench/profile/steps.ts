/**
 * The cost per ticket of each step of the ticket pipeline, measured on its own over the benchmark's
 * 1,000,000-ticket file (see make-file.ts). Two ways, each in fresh processes, best of `--rounds`:
 *
 * - cumulative, streaming: the file read with the engine's own `lineSource` (1 MiB blocks, UTF-8 check,
 *   split into lines), then each stage adds one step to the previous one; a step's cost is the
 *   difference between its stage and the one before.
 *     read       lineSource alone: read, check UTF-8, split and decode lines
 *     parse      + JSON.parse
 *     validate   parseTicket instead (JSON.parse + validateTicket)
 *     enrich     + enrichTicket (the design's tables)
 *     fold       + ticketMetrics.add, and ticketMetrics.result at the end
 *     digest     validate + enrich + only the `sla` digest of ticketMetrics (no other aggregator)
 *     engine     the whole pipeline (createPipeline, as bench/replay.bench.ts `engine` builds it)
 *     rollups    the same with `--rollups hour,day`
 * - isolated, in memory: each step alone over the previous step's output, on the file's first 8192
 *   lines repeated to 1,000,000 operations (see {@link isolated}); only the step's loop is timed.
 *
 *   node --conditions=ticketflow-source --import tsx bench/profile/steps.ts [--rounds 3] [--file PATH]
 *     [--only read,parse,…,isolated]
 *
 * Times are wall times of the step's loop in its process. The machine is shared: each round also
 * reports how much CPU the rest of the machine used meanwhile (from /proc/stat), and the best round
 * (least wall time) is taken. (The main thread's own CPU time is no better a measure here: on this
 * 2-core machine it fell when another process kept the other core busy, while the wall time did not
 * change.)
 *
 * With `--child STAGE` it runs one stage and prints its result as JSON (used by the parent).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { digest, isRejection, lineSource, type RecordContext, type SourceContext } from '@ticketflow/core';
import { enrichTicket } from '../../examples/ticket-pipeline/src/domain/enrich';
import type { EnrichedTicket, Ticket } from '../../examples/ticket-pipeline/src/domain/ticket';
import { parseTicket, validateTicket } from '../../examples/ticket-pipeline/src/domain/validate';
import { ticketMetrics } from '../../examples/ticket-pipeline/src/ticket-metrics';
import { ticketPipeline } from '../support';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DEFAULT_FILE = join(ROOT, '.cache', 'bench', 'tickets-1000000.jsonl');

const STREAMING = ['read', 'parse', 'validate', 'enrich', 'fold', 'digest', 'engine', 'rollups'] as const;
type Stage = (typeof STREAMING)[number];
const ISOLATED = ['JSON.parse', 'validateTicket', 'parseTicket', 'enrichTicket', 'fold', 'digest'] as const;

/** Starts a clock; the returned function reads the elapsed wall time, ms. */
function startClock(): () => number {
  const started = performance.now();
  return () => performance.now() - started;
}

interface StageResult {
  readonly stage: string;
  readonly lines: number;
  readonly valid: number;
  /** Wall time, ms. */
  readonly ms: number;
  /** Isolated mode: each step's wall time per operation, µs. */
  readonly steps?: Record<string, number>;
  /** A value derived from the work (with {@link keep}, so that none of it can be optimized away). */
  readonly check: number;
}

/** The same `sla` member as ticketMetrics (see ticket-metrics.ts). */
const slaDigest = digest((t: EnrichedTicket) => t.sla_hours, {
  quantiles: { median: 0.5, p90: 0.9, p99: 0.99 },
});

/**
 * Every step's output is stored here, in a ring of 1024 slots, so that it escapes: otherwise V8 may
 * inline a step and drop the parts of its result no one reads (the enriched ticket's strings, say).
 */
const kept: unknown[] = new Array(1024).fill(undefined);
let keptAt = 0;
const keep = (value: unknown): void => {
  kept[keptAt++ & 1023] = value;
};

/** Reads the file with the engine's `lineSource`, calling `onLines` for each block's lines. */
function readLines(path: string, onLines: (values: readonly string[]) => void): Promise<number> {
  let lines = 0;
  return new Promise((resolvePromise, reject) => {
    lineSource({ path })
      .open({
        startAt: {},
        signal: new AbortController().signal,
        // Never asks to pause (an RxJS NEVER without importing RxJS, which bench/ cannot resolve).
        pressure: { subscribe: () => ({ unsubscribe: () => {} }) } as unknown as SourceContext['pressure'],
        flush: async () => {},
      })
      .subscribe({
        next: (chunk) => {
          lines += chunk.values.length;
          onLines(chunk.values);
        },
        error: reject,
        complete: () => resolvePromise(lines),
      });
  });
}

async function streaming(stage: Stage, path: string): Promise<StageResult> {
  if (stage === 'engine' || stage === 'rollups') return engine(path, stage === 'rollups');
  const context: RecordContext = { lane: 'input', offset: 0 };
  let valid = 0;
  let check = 0;
  let acc = ticketMetrics.init();
  let sketch = slaDigest.init();
  const clock = startClock();
  const lines = await readLines(path, (values) => {
    for (const text of values) {
      if (stage === 'read') {
        keep(text);
        continue;
      }
      if (stage === 'parse') {
        try {
          keep(JSON.parse(text));
          valid++;
        } catch {}
        continue;
      }
      const ticket = parseTicket(text, context);
      if (isRejection(ticket)) continue;
      valid++;
      if (stage === 'validate') {
        keep(ticket);
        continue;
      }
      const t = enrichTicket(ticket);
      if (stage === 'enrich') keep(t);
      else if (stage === 'fold') acc = ticketMetrics.add(acc, t);
      else sketch = slaDigest.add(sketch, t);
    }
  });
  if (stage === 'fold') check += ticketMetrics.result(acc).total_tickets;
  if (stage === 'digest') check += slaDigest.result(sketch).count;
  return { stage, lines, valid, ms: clock(), check };
}

/** The pipeline as bench/replay.bench.ts `engine` runs it: one window, output kept in memory. */
async function engine(path: string, rollups: boolean): Promise<StageResult> {
  let written = 0;
  const clock = startClock();
  const pipeline = ticketPipeline(path, rollups, (text) => {
    written += text.length;
  });
  const summary = await pipeline.run();
  const ms = clock();
  return {
    stage: rollups ? 'rollups' : 'engine',
    lines: summary.records + summary.invalidRecords,
    valid: summary.records,
    ms,
    check: written,
  };
}

/** Records of the isolated mode's working set: few enough to stay in the CPU's caches. */
const SAMPLE = 8192;
/** Operations each isolated step times: the working set over and over. */
const OPERATIONS = 1_000_000;

/**
 * Each step alone, over the previous step's output held in memory, on the file's first {@link SAMPLE}
 * lines repeated to {@link OPERATIONS} operations: a working set that stays in the caches, as a record
 * just read does in the pipeline (over all 1,000,000 records held in memory, reading each record's
 * fields back from memory costs more than the smaller steps themselves). Only the step's loop is timed.
 */
async function isolated(path: string): Promise<StageResult> {
  const lines: string[] = [];
  let total = 0;
  await readLines(path, (values) => {
    total += values.length;
    for (const v of values) if (lines.length < SAMPLE) lines.push(v);
  });
  const context: RecordContext = { lane: 'input', offset: 0 };
  /** µs per operation. */
  const steps: Record<string, number> = {};
  let check = 0;
  // Each step starts from a collected heap (the child runs with --expose-gc), so that no step pays for
  // the garbage of the one before.
  const collect = (globalThis as { gc?: () => void }).gc ?? (() => {});
  // One loop per step, written out: a shared loop calling each step through a function value would
  // see six different functions at one call site and could inline none of them.
  const time = (name: string, count: number, run: (rounds: number) => void) => {
    const rounds = Math.ceil(OPERATIONS / count);
    collect();
    const clock = startClock();
    run(rounds);
    steps[name] = (clock() * 1000) / (rounds * count);
  };

  time('JSON.parse', lines.length, (rounds) => {
    for (let r = 0; r < rounds; r++)
      for (const text of lines) {
        try {
          keep(JSON.parse(text));
        } catch {}
      }
  });
  const parsed: unknown[] = [];
  for (const text of lines) {
    try {
      parsed.push(JSON.parse(text));
    } catch {}
  }
  time('validateTicket', parsed.length, (rounds) => {
    for (let r = 0; r < rounds; r++) for (const value of parsed) keep(validateTicket(value));
  });
  time('parseTicket', lines.length, (rounds) => {
    for (let r = 0; r < rounds; r++) for (const text of lines) keep(parseTicket(text, context));
  });
  const tickets: Ticket[] = [];
  for (const text of lines) {
    const t = parseTicket(text, context);
    if (!isRejection(t)) tickets.push(t);
  }
  time('enrichTicket', tickets.length, (rounds) => {
    for (let r = 0; r < rounds; r++) for (const t of tickets) keep(enrichTicket(t));
  });
  const enriched = tickets.map((t) => enrichTicket(t));
  time('fold', enriched.length, (rounds) => {
    let acc = ticketMetrics.init();
    for (let r = 0; r < rounds; r++) for (const t of enriched) acc = ticketMetrics.add(acc, t);
    check += ticketMetrics.result(acc).total_tickets;
  });
  time('digest', enriched.length, (rounds) => {
    let sketch = slaDigest.init();
    for (let r = 0; r < rounds; r++) for (const t of enriched) sketch = slaDigest.add(sketch, t);
    check += slaDigest.result(sketch).count;
  });
  const ms = (Object.values(steps).reduce((a, b) => a + b, 0) * OPERATIONS) / 1000;
  return { stage: 'isolated', lines: total, valid: enriched.length, ms, steps, check };
}

/** Busy CPU time of the whole machine, in ms, from /proc/stat (Linux only). */
function machineBusyMs(): number | undefined {
  try {
    const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
    const fields = (cpu as string).trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.reduce((a, b) => a + b, 0);
    return ((total - idle) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

interface Run extends StageResult {
  /** CPU time the rest of the machine used meanwhile, in cores (0 to nproc - 1). */
  readonly othersCores?: number;
}

function run(stage: string, path: string, heavy: boolean): Run {
  const busyBefore = machineBusyMs();
  const began = performance.now();
  const out = execFileSync(
    process.execPath,
    [
      '--conditions=ticketflow-source',
      ...(heavy ? ['--expose-gc'] : []),
      '--import',
      'tsx',
      import.meta.filename,
      '--child',
      stage,
      '--file',
      path,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
  );
  const wall = performance.now() - began;
  const busyAfter = machineBusyMs();
  const result = JSON.parse(out.trim().split('\n').at(-1) as string) as StageResult & {
    processCpuMs: number;
  };
  const othersCores =
    busyBefore === undefined || busyAfter === undefined
      ? undefined
      : Math.max(0, (busyAfter - busyBefore - result.processCpuMs) / wall);
  return { ...result, ...(othersCores === undefined ? {} : { othersCores }) };
}

const us = (ms: number, lines: number) => (ms * 1000) / lines;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      file: { type: 'string', default: DEFAULT_FILE },
      rounds: { type: 'string', default: '3' },
      only: { type: 'string' },
    },
  });
  const path = values.file as string;
  if (values.child !== undefined) {
    const result =
      values.child === 'isolated' ? await isolated(path) : await streaming(values.child as Stage, path);
    const usage = process.cpuUsage();
    console.log(JSON.stringify({ ...result, processCpuMs: (usage.user + usage.system) / 1000 }));
    return;
  }
  const rounds = Number(values.rounds);
  const stages: string[] =
    values.only === undefined ? [...STREAMING, 'isolated'] : (values.only as string).split(',');
  console.log(`${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, file ${path}`);
  const runs = new Map<string, Run[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const stage of stages) {
      const r = run(stage, path, stage === 'isolated');
      runs.set(stage, [...(runs.get(stage) ?? []), r]);
      console.log(
        `round ${round} ${stage.padEnd(8)} ${r.steps ? '' : `${us(r.ms, r.lines).toFixed(3)} µs/line  `}(others used ${r.othersCores?.toFixed(2) ?? '?'} cores)`,
      );
      for (const [step, perOperation] of Object.entries(r.steps ?? {}))
        console.log(`               ${step.padEnd(15)} ${perOperation.toFixed(3)} µs/operation`);
    }
  }
  const best = (stage: string) => (runs.get(stage) ?? []).reduce((a, b) => (b.ms < a.ms ? b : a));
  const lines = best(stages[0] as string).lines;
  console.log(`\nbest of ${rounds}, µs per line of the file (${lines} lines)`);
  const time = (stage: string) => us(best(stage).ms, lines);
  let previous: number | undefined;
  for (const stage of STREAMING.filter((s) => runs.has(s))) {
    const t = time(stage);
    const delta =
      stage === 'digest'
        ? `digest alone: ${(t - time('enrich')).toFixed(3)} over enrich`
        : stage === 'engine'
          ? `engine over fold: ${(t - time('fold')).toFixed(3)}`
          : stage === 'rollups'
            ? `rollups over engine: ${(t - time('engine')).toFixed(3)}`
            : previous === undefined
              ? ''
              : `step: ${(t - previous).toFixed(3)}`;
    if (stage !== 'digest' && stage !== 'engine' && stage !== 'rollups') previous = t;
    console.log(
      `  ${stage.padEnd(9)} ${t.toFixed(3).padStart(7)}  ${delta.padEnd(32)} valid ${best(stage).valid}`,
    );
  }
  if (runs.has('isolated')) {
    console.log(`  isolated, ${SAMPLE} records in memory repeated (best of each step), µs per operation:`);
    for (const step of ISOLATED) {
      const perOperation = Math.min(
        ...(runs.get('isolated') ?? []).map((r) => r.steps?.[step] ?? Number.POSITIVE_INFINITY),
      );
      console.log(`    ${step.padEnd(15)} ${perOperation.toFixed(3).padStart(7)}`);
    }
  }
}

await main();
