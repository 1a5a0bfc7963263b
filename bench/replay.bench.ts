/**
 * Replay benchmark: the engine against a plain hand-written loop over the same JSON Lines file, in the
 * same run. Each measurement runs in its own process so that peak RSS is its own.
 *
 *   pnpm bench                       start-up of ./ticket-pipeline, then 1,000,000 tickets: the loop,
 *                                    the engine in process, the launcher with 1 thread and with one
 *                                    worker per core; then 3,000,000 in one window
 *   pnpm bench --count 200000     a smaller file
 *   pnpm bench --only startup     the launcher's start-up only
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isRejection } from '@ticketflow/core';
import { enrichTicket } from '../examples/ticket-pipeline/src/domain/enrich';
import { generateTickets } from '../examples/ticket-pipeline/src/domain/generator';
import { parseTicket } from '../examples/ticket-pipeline/src/domain/validate';
import type { TicketMetrics } from '../examples/ticket-pipeline/src/ticket-metrics';
import { QuantileSketch } from '../packages/core/src/internal/quantile-sketch';
import { ticketPipeline, writeTicketFile } from './support';

const ROOT = resolve(import.meta.dirname, '..');
const CACHE = join(ROOT, '.cache', 'bench');

interface Measurement {
  readonly mode: string;
  readonly tickets: number;
  readonly invalid: number;
  readonly ms: number;
  readonly peakRssMb: number;
  readonly check: string;
}

async function ensureFile(count: number): Promise<string> {
  mkdirSync(CACHE, { recursive: true });
  const path = join(CACHE, `tickets-${count}.jsonl`);
  if (existsSync(path)) return path;
  const started = performance.now();
  await writeTicketFile(path, count);
  console.log(
    `generated ${count} tickets in ${((performance.now() - started) / 1000).toFixed(1)} s → ${path}`,
  );
  return path;
}

/** The file's lines, a block of them per 1 MiB read, each decoded on its own as `lineSource` does. */
async function* lineBlocks(path: string): AsyncGenerator<string[]> {
  let carry: Buffer | undefined;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const bytes = carry === undefined ? (chunk as Buffer) : Buffer.concat([carry, chunk as Buffer]);
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const end = bytes.indexOf(10, start);
      if (end === -1) break;
      lines.push(bytes.toString('utf8', start, end));
      start = end + 1;
    }
    carry = start < bytes.length ? Buffer.from(bytes.subarray(start)) : undefined;
    yield lines;
  }
}

/** The baseline: read lines, JSON.parse, validate, enrich, fold, written by hand with no framework. */
async function loop(path: string): Promise<Omit<Measurement, 'mode' | 'peakRssMb'>> {
  const started = performance.now();
  const perHour = new Map<number, number>();
  const perDay = new Map<string, number>();
  const perType = new Map<string, number>();
  const perPriority = new Map<string, number>();
  const perTeam = new Map<string, number>();
  const slaByTeam = new Map<string, { total: number; count: number }>();
  const sla = new QuantileSketch();
  let valid = 0;
  let invalid = 0;
  let slaTotal = 0;
  let scoreTotal = 0;
  let line = 0;
  const context = { lane: 'input', offset: 0 };
  for await (const lines of lineBlocks(path)) {
    for (const text of lines) {
      context.offset = line++;
      const ticket = parseTicket(text, context);
      if (isRejection(ticket)) {
        invalid++;
        continue;
      }
      const t = enrichTicket(ticket);
      valid++;
      perHour.set(t.event_hour, (perHour.get(t.event_hour) ?? 0) + 1);
      perDay.set(t.event_date, (perDay.get(t.event_date) ?? 0) + 1);
      perType.set(t.request_type, (perType.get(t.request_type) ?? 0) + 1);
      perPriority.set(t.priority, (perPriority.get(t.priority) ?? 0) + 1);
      perTeam.set(t.support_team, (perTeam.get(t.support_team) ?? 0) + 1);
      const team = slaByTeam.get(t.support_team);
      if (team) {
        team.total += t.sla_hours;
        team.count++;
      } else slaByTeam.set(t.support_team, { total: t.sla_hours, count: 1 });
      slaTotal += t.sla_hours;
      scoreTotal += t.priority_score;
      sla.add(t.sla_hours);
    }
  }
  const [median, p90, p99] = sla.quantiles([0.5, 0.9, 0.99]);
  const ms = performance.now() - started;
  const check = JSON.stringify({
    valid,
    types: [...perType.entries()].sort(),
    sla_mean: slaTotal / valid,
    score_mean: scoreTotal / valid,
    median,
    p90,
    p99,
    hours: perHour.size,
    days: perDay.size,
    priorities: perPriority.size,
    teams: perTeam.size,
    slaTeams: slaByTeam.size,
  });
  return { tickets: valid, invalid, ms, check };
}

/** The floor: read lines and JSON.parse them, nothing else. */
async function parseOnly(path: string): Promise<Omit<Measurement, 'mode' | 'peakRssMb'>> {
  const started = performance.now();
  let valid = 0;
  let invalid = 0;
  for await (const lines of lineBlocks(path)) {
    for (const text of lines) {
      try {
        JSON.parse(text);
        valid++;
      } catch {
        invalid++;
      }
    }
  }
  return { tickets: valid, invalid, ms: performance.now() - started, check: '' };
}

/**
 * The engine: the ticket pipeline as the CLI builds it, one window, output kept in memory. With
 * `rollups`, also the hourly and daily event-time windows of `--rollups hour,day` (made final at the end
 * of the input), each serialized as its file would be.
 */
async function engine(path: string, rollups = false): Promise<Omit<Measurement, 'mode' | 'peakRssMb'>> {
  const started = performance.now();
  let last: TicketMetrics | undefined;
  let written = '';
  let windows = 0;
  const pipeline = ticketPipeline(path, rollups, (text, kind, metrics) => {
    last = metrics;
    if (kind === 'batch') written = text;
    else {
      written += text;
      windows += 1;
    }
  });
  const summary = await pipeline.run();
  const ms = performance.now() - started;
  const m = last as TicketMetrics;
  const check = JSON.stringify({
    valid: summary.records,
    types: m.by_type.map((r) => [r.request_type, r.count_by_request_type]),
    sla_mean: m.sla_mean,
    score_mean: m.priority_score_mean,
    median: m.sla.quantiles.median,
    p90: m.sla.quantiles.p90,
    p99: m.sla.quantiles.p99,
    hours: m.tickets_per_hour.length,
    days: m.tickets_per_day.length,
    priorities: m.by_priority.length,
    teams: m.by_team.length,
    slaTeams: m.sla_mean_by_team.length,
  });
  if (written.length === 0 || summary.batches !== 1) throw new Error('the engine wrote no single batch');
  if (rollups && windows === 0) throw new Error('the engine made no rollup final');
  return { tickets: summary.records, invalid: summary.invalidRecords, ms, check };
}

type Mode = 'loop' | 'engine' | 'rollups' | 'parse';

function measure(mode: Mode, path: string): Measurement {
  const out = execFileSync(
    process.execPath,
    [
      '--conditions=ticketflow-source',
      '--import',
      'tsx',
      import.meta.filename,
      '--child',
      mode,
      '--file',
      path,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
  );
  return JSON.parse(out.trim().split('\n').at(-1) as string) as Measurement;
}

/**
 * Start-up of the README's launcher to its first record read, from the launch of
 * `./ticket-pipeline process --input ONE_TICKET --max-records 1` until it logs its first batch: an upper
 * bound (the batch's write is counted too) of loading, checkpoint, lease and first read. The binary is
 * built beforehand.
 */
async function startup(rounds: number): Promise<number[]> {
  execFileSync('pnpm', ['-s', '--filter', '@ticketflow/example-ticket-pipeline', 'build'], { cwd: ROOT });
  const input = join(CACHE, 'startup.jsonl');
  const [line] = generateTickets({ seed: 1, badFraction: 0 });
  writeFileSync(input, `${line}\n`);
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const out = join(CACHE, `startup-out-${round}`);
    rmSync(out, { recursive: true, force: true });
    const started = performance.now();
    const child = spawn(
      join(ROOT, 'ticket-pipeline'),
      ['process', '--input', input, '--out', out, '--max-records', '1', '--quiet'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exited = once(child, 'exit');
    let stderr = '';
    await new Promise<void>((resolvePromise) => {
      child.stderr.setEncoding('utf8').on('data', (text: string) => {
        stderr += text;
        if (stderr.includes('JSON metrics written')) resolvePromise();
      });
      child.once('exit', () => resolvePromise());
    });
    times.push(performance.now() - started);
    const [code] = await exited;
    if (code !== 0) throw new Error(`./ticket-pipeline process exited ${code}: ${stderr}`);
    rmSync(out, { recursive: true, force: true });
  }
  rmSync(input, { force: true });
  return times;
}

/**
 * The README's launcher end to end, start-up included: `./ticket-pipeline process --input FILE` with
 * `--workers N`, one window, timed from spawn to exit, its peak RSS (main thread and worker threads are
 * one process) from GNU time. The batch file it wrote gives the same check as the other modes.
 */
function launcher(path: string, workers: number, rollups = false): Measurement {
  const out = join(CACHE, `launcher-out-${workers}`);
  rmSync(out, { recursive: true, force: true });
  const args = ['process', '--input', path, '--out', out, '--window', '1h', '--quiet', '--log-level', 'warn'];
  args.push('--workers', String(workers));
  if (rollups) args.push('--rollups', 'hour,day', '--allowed-lateness', '10m');
  const started = performance.now();
  const result = spawnSync('/usr/bin/time', ['-f', '%M', join(ROOT, 'ticket-pipeline'), ...args], {
    encoding: 'utf8',
  });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`./ticket-pipeline ${args.join(' ')} failed: ${result.stderr}`);
  const peakRssMb = Math.round(Number(result.stderr.trim().split('\n').at(-1)) / 1024);
  const batch = JSON.parse(readFileSync(join(out, 'batch_00000.json'), 'utf8')) as Record<string, unknown>;
  rmSync(out, { recursive: true, force: true });
  const rows = (field: string) => batch[field] as Array<Record<string, unknown>>;
  const check = JSON.stringify({
    valid: batch.total_tickets,
    types: rows('by_type').map((r) => [r.request_type, r.count_by_request_type]),
    sla_mean: batch.sla_mean,
    score_mean: batch.priority_score_mean,
    median: batch.sla_median,
    p90: batch.sla_p90,
    p99: batch.sla_p99,
    hours: rows('tickets_per_hour').length,
    days: rows('tickets_per_day').length,
    priorities: rows('by_priority').length,
    teams: rows('by_team').length,
    slaTeams: rows('sla_mean_by_team').length,
  });
  return {
    mode: `launcher, ${workers} worker${workers === 1 ? '' : 's'}${rollups ? ', rollups' : ''}`,
    tickets: batch.total_tickets as number,
    invalid: batch.invalid_tickets as number,
    ms,
    peakRssMb,
    check,
  };
}

const rate = (m: Measurement) => Math.round(((m.tickets + m.invalid) * 1000) / m.ms);

async function main(): Promise<void> {
  const { values } = parseArgs({
    allowPositionals: true,
    options: {
      child: { type: 'string' },
      file: { type: 'string' },
      count: { type: 'string', default: '1000000' },
      big: { type: 'string', default: '3000000' },
      rounds: { type: 'string', default: '3' },
      only: { type: 'string' },
    },
  });
  if (values.child) {
    const runs: Record<string, (file: string) => Promise<Omit<Measurement, 'mode' | 'peakRssMb'>>> = {
      loop,
      parse: parseOnly,
      engine: (file) => engine(file),
      rollups: (file) => engine(file, true),
    };
    const run = runs[values.child as string] as (typeof runs)[string];
    const result = await run(values.file as string);
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    console.log(JSON.stringify({ mode: values.child, peakRssMb, ...result }));
    return;
  }
  mkdirSync(CACHE, { recursive: true });
  const times = await startup(5);
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  console.log(
    `start-up of ./ticket-pipeline to its first record read: median ${median.toFixed(0)} ms, best ${(sorted[0] as number).toFixed(0)} ms of ${times.length} (${times.map((t) => t.toFixed(0)).join(', ')} ms; target < 500 ms)`,
  );
  if (values.only === 'startup') return;
  const count = Number(values.count);
  const path = await ensureFile(count);
  const rounds = Number(values.rounds);
  const workers = Math.max(2, availableParallelism());
  type Kind = 'loop' | 'engine' | 'rollups' | 'launcher1' | 'launcherN' | 'launcherNRollups';
  const runs: Record<Kind, () => Measurement> = {
    loop: () => measure('loop', path),
    engine: () => measure('engine', path),
    rollups: () => measure('rollups', path),
    launcher1: () => launcher(path, 1),
    launcherN: () => launcher(path, workers),
    launcherNRollups: () => launcher(path, workers, true),
  };
  const results = Object.fromEntries(Object.keys(runs).map((k) => [k, [] as Measurement[]])) as Record<
    Kind,
    Measurement[]
  >;
  for (let round = 0; round < rounds; round++) {
    for (const kind of Object.keys(runs) as Kind[]) {
      const m = runs[kind]();
      results[kind].push(m);
      console.log(
        `round ${round + 1} ${m.mode.padEnd(30)} ${rate(m).toLocaleString('en').padStart(10)} tickets/s  ${m.ms.toFixed(0).padStart(6)} ms  peak RSS ${m.peakRssMb} MB`,
      );
    }
  }
  const best = (kind: Kind) => results[kind].reduce((a, b) => (b.ms < a.ms ? b : a));
  const l = best('loop');
  for (const kind of Object.keys(runs) as Kind[]) {
    const m = best(kind);
    if (m.check !== l.check) throw new Error(`${m.mode} and the loop disagree:\n${l.check}\n${m.check}`);
  }
  const line = (m: Measurement, note = '') =>
    console.log(
      `  ${m.mode.padEnd(30)} ${rate(m).toLocaleString('en').padStart(10)} tickets/s  ${m.ms.toFixed(0).padStart(6)} ms  time / loop ${(m.ms / l.ms).toFixed(3)}  peak RSS ${m.peakRssMb} MB${note}`,
    );
  console.log('');
  console.log(
    `replay of ${count.toLocaleString('en')} tickets, best of ${rounds}; every mode computed the metrics of the loop (load ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}, ${availableParallelism()} cores)`,
  );
  line(l, '  (baseline: hand-written, one thread, in process, no start-up)');
  line(best('engine'), '  (createPipeline in process, no start-up; target ≤ 1.25)');
  line(best('rollups'), '  (with --rollups hour,day)');
  line(best('launcher1'), '  (README launcher, start-up included)');
  line(best('launcherN'), `  (README launcher, start-up included; target ≤ 0.5)`);
  line(best('launcherNRollups'), '  (README launcher, start-up included, --rollups hour,day)');
  console.log(
    `  ${workers} workers / 1 thread, both through the launcher: time ${(best('launcherN').ms / best('launcher1').ms).toFixed(3)}`,
  );
  const floor = measure('parse', path);
  console.log(
    `  for scale: reading lines and JSON.parse alone runs at ${rate(floor).toLocaleString('en')} lines/s here (${((floor.ms / (floor.tickets + floor.invalid)) * 1000).toFixed(2)} µs a line)`,
  );

  const big = Number(values.big);
  if (big > 0) {
    const bigPath = await ensureFile(big);
    const one = measure('engine', bigPath);
    console.log(
      `one window of ${big.toLocaleString('en')} tickets, one thread: ${rate(one).toLocaleString('en')} tickets/s, peak RSS ${one.peakRssMb} MB (target < 300 MB)`,
    );
    const many = launcher(bigPath, workers);
    if (many.check !== JSON.stringify({ ...JSON.parse(one.check) })) {
      throw new Error(
        `the launcher with ${workers} workers and the engine disagree:\n${one.check}\n${many.check}`,
      );
    }
    console.log(
      `one window of ${big.toLocaleString('en')} tickets, launcher with ${workers} workers: ${rate(many).toLocaleString('en')} tickets/s, peak RSS ${many.peakRssMb} MB (target < 250 MB)`,
    );
    if (process.env.TICKETFLOW_BENCH_KEEP !== '1') rmSync(bigPath, { force: true });
  }
}

await main();
