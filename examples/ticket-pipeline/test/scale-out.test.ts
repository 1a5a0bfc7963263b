/**
 * Scale-out on a real broker (see "Scale-out" in the design): partial processors (`process
 * --partials-topic`) produce each micro-batch's partial aggregate in a Kafka transaction with their
 * offsets, and one `merge` writes the files. Whatever is killed, restarted or added, the files hold each
 * produced ticket exactly once.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRejection } from '@ticketflow/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { headerText, readRaw } from '../../../packages/kafka-source/test/support/raw-kafka';
import { parseTicket } from '../src/domain/validate';
import { type RunningCli, readBatches, recordsIn, startCli } from './support/cli';
import { BROKERS, createTopic, ensureBroker, freshTopic, processArgs, produceTickets } from './support/kafka';
import {
  batchTotals,
  expectedBreakdown,
  lastPlan,
  openInCheckpoint,
  rollupFiles,
  totalOf,
} from './support/outputs';
import { expectedTotals, generatedTickets } from './support/ticket-totals';
import { waitFor } from './support/wait';

let dir: string;
/** Every CLI started by the running test: whatever is still alive at its end is killed. */
const running = new Set<RunningCli>();
beforeAll(() => ensureBroker());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-scale-out-'));
});
afterEach(async () => {
  for (const cli of running) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.done;
  }
  running.clear();
  await rm(dir, { recursive: true, force: true });
});
afterAll(() => ensureBroker());

const BAD = 0.02;

/** The topic, its dead-letter topic and its partials topic, fresh. */
async function topics(prefix: string): Promise<string> {
  const topic = freshTopic(prefix);
  await createTopic(topic, 6);
  await createTopic(`${topic}.dlq`, 1);
  await createTopic(`${topic}.partials`, 3);
  return topic;
}

/** A partial processor of `topic` in group `group` with a stable instance id. */
function partialArgs(topic: string, group: string, id: string, extra: readonly string[] = []): string[] {
  return [
    'process',
    '--brokers',
    BROKERS,
    '--topic',
    topic,
    '--group',
    group,
    '--partials-topic',
    `${topic}.partials`,
    '--instance-id',
    id,
    '--window',
    '300ms',
    '--max-records',
    '300',
    ...extra,
  ];
}

/** The merge of `topic`'s partials into `out` (static membership: a restart resumes at once). */
function mergeArgs(topic: string, group: string, out: string, extra: readonly string[] = []): string[] {
  return [
    'merge',
    '--brokers',
    BROKERS,
    '--partials-topic',
    `${topic}.partials`,
    '--group',
    group,
    '--instance-id',
    `merge-${group}`,
    '--window',
    '300ms',
    '--out',
    out,
    ...extra,
  ];
}

function start(args: readonly string[]): RunningCli {
  const cli = startCli(args);
  running.add(cli);
  return cli;
}

async function kill(cli: RunningCli): Promise<void> {
  cli.child.kill('SIGKILL');
  const result = await cli.done;
  expect(result.signal).toBe('SIGKILL');
}

/** Stops with SIGTERM and expects a clean exit. */
async function stop(cli: RunningCli, name: string): Promise<void> {
  cli.child.kill('SIGTERM');
  const result = await cli.done;
  expect(result.code, `${name} exit\n${result.stderr.slice(-3000)}`).toBe(0);
}

/** Fails fast, with its output, when a process that should be running has exited. */
function alive(clis: Record<string, RunningCli>): void {
  for (const [name, cli] of Object.entries(clis)) {
    if (cli.child.exitCode !== null) {
      throw new Error(`${name} exited with ${cli.child.exitCode}:\n${cli.output().stderr.slice(-3000)}`);
    }
  }
}

/** Waits until the merged batch files of `out` hold at least `records`, failing early if a process died. */
async function mergedAtLeast(
  out: string,
  records: number,
  clis: Record<string, RunningCli>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  let dead: Error | undefined;
  await waitFor(
    async () => {
      try {
        alive(clis);
      } catch (error) {
        dead = error as Error;
        return true;
      }
      return (await recordsIn(out)) >= records;
    },
    what,
    timeoutMs,
  );
  if (dead) throw dead;
}

/**
 * Tickets per window start (ms) of one rollup: its final files plus the windows still open in the last
 * checkpoint. A window is final or open, never both.
 */
async function perWindow(out: string, name: 'hourly' | 'daily'): Promise<Record<number, number>> {
  const counts: Record<number, number> = {};
  for (const text of (await rollupFiles(out, name)).values()) {
    const row = JSON.parse(text);
    const start = Date.parse(row.window_start);
    expect(counts[start], `${name} window ${row.window_start} written twice`).toBeUndefined();
    counts[start] = row.total_tickets as number;
  }
  const plan = (await lastPlan(out)) as {
    eventTime: { windows: Record<string, { open: Array<[number, number, unknown]> }> };
  };
  for (const [start, records] of plan.eventTime.windows[name]?.open ?? []) {
    expect(
      counts[start],
      `${name} window ${new Date(start).toISOString()} both final and open`,
    ).toBeUndefined();
    counts[start] = records;
  }
  return counts;
}

/** Batch ids consecutive from 0, no `.tmp` left anywhere in `out`, every file complete JSON. */
async function expectCleanOutput(out: string): Promise<Array<Record<string, unknown>>> {
  const names = (await readdir(out)).filter((n) => /^batch_\d+\.json$/.test(n)).sort();
  for (const name of names) {
    const text = await readFile(join(out, name), 'utf8');
    expect(() => JSON.parse(text), `${name} is not complete JSON`).not.toThrow();
  }
  const batches = await readBatches(out);
  expect(batches.length).toBeGreaterThan(0);
  expect(batches.map((b) => b.batch_id)).toEqual(batches.map((_, i) => i));
  const leftovers = (await readdir(out, { recursive: true })).filter((n) => n.endsWith('.tmp'));
  expect(leftovers).toEqual([]);
  return batches;
}

/**
 * The dead-letter topic holds each invalid record of the topic exactly once (committed transactions
 * only, as a `read_committed` reader sees it).
 */
async function expectDeadLettersOnce(topic: string, total: number, invalid: number): Promise<void> {
  const source = await readRaw(topic, total);
  expect(source).toHaveLength(total);
  const refused = source.flatMap((m) => {
    const parsed = parseTicket(m.value?.toString('utf8') ?? '', {
      lane: `${topic}/${m.partition}`,
      offset: m.offset,
    });
    return isRejection(parsed) ? [`${m.partition}/${m.offset}`] : [];
  });
  expect(refused).toHaveLength(invalid);
  // Ask for one more than expected: a duplicate would show up within the time allowed.
  const letters = await readRaw(`${topic}.dlq`, invalid + 1, 8_000, { 'isolation.level': 'read_committed' });
  const origins = letters.map((letter) => {
    const headers = headerText(letter);
    expect(headers.original_topic).toBe(topic);
    return `${headers.original_partition}/${headers.original_offset}`;
  });
  expect(origins).toHaveLength(invalid);
  expect([...origins].sort()).toEqual([...refused].sort());
}

describe('scale-out: partial processors and a merge on a real Kafka broker', () => {
  it('counts every ticket exactly once, with rollups, when partial processors and the merge are killed with SIGKILL and restarted', async () => {
    const topic = await topics('scale-kill');
    const group = `g-${topic}`;
    const out = join(dir, 'metrics');
    const rollups = ['--rollups', 'hour,day'];
    const p1Args = partialArgs(topic, group, 'p1', rollups);
    const p2Args = partialArgs(topic, group, 'p2', rollups);
    const mArgs = mergeArgs(topic, `${group}-merge`, out, rollups);
    const chunks = [
      { count: 6000, seed: 101 },
      { count: 6000, seed: 102 },
      { count: 6000, seed: 103 },
      { count: 6000, seed: 104 },
      { count: 6000, seed: 105 },
    ];
    const lines = chunks.flatMap(({ count, seed }) => generatedTickets(count, seed, BAD));
    const total = lines.length;
    const procs = { p1: start(p1Args), p2: start(p2Args), merge: start(mArgs) };

    let produced = 0;
    const produceChunk = async (i: number) => {
      const chunk = chunks[i];
      if (!chunk) throw new Error(`no chunk ${i}`);
      await produceTickets(topic, chunk.count, chunk.seed, { badFraction: BAD });
      produced += chunk.count;
    };
    await produceChunk(0);
    await mergedAtLeast(out, 1000, procs, 'the first merged batches');

    // While tickets keep arriving: kill p1, the merge, then p1 again, each after some progress.
    const kills: Array<keyof typeof procs> = ['p1', 'merge', 'p1'];
    for (const [round, name] of kills.entries()) {
      const producing = produceChunk(round + 1);
      const before = await recordsIn(out);
      await mergedAtLeast(out, before + 600, procs, `progress before killing ${name} (round ${round})`);
      // Killed mid-run, after it committed work of its own since it started.
      const victim = procs[name];
      const done = name === 'merge' ? /JSON metrics written/ : /partial of batch \d+ committed/;
      await waitFor(() => done.test(victim.output().stderr), `${name} committing a batch (round ${round})`);
      await kill(victim);
      running.delete(procs[name]);
      await new Promise((r) => setTimeout(r, 300));
      procs[name] = start(name === 'p1' ? p1Args : name === 'p2' ? p2Args : mArgs);
      await producing;
    }
    await produceChunk(4);
    expect(produced).toBe(total);
    await mergedAtLeast(out, total, procs, 'every produced ticket merged', 90_000);
    await Promise.all([stop(procs.p1, 'p1'), stop(procs.p2, 'p2'), stop(procs.merge, 'merge')]);

    const batches = await expectCleanOutput(out);
    const want = expectedBreakdown(lines);
    expect(batchTotals(batches)).toEqual(want);
    await expectDeadLettersOnce(topic, total, want.invalid);

    // Rollups: every valid ticket is in a final hour, late, or in an hour still open at the last checkpoint.
    const late = batches.reduce((n, b) => n + (b.late_tickets as number), 0);
    const hourly = await rollupFiles(out, 'hourly');
    for (const text of hourly.values()) expect(() => JSON.parse(text)).not.toThrow();
    const open = await openInCheckpoint(out);
    expect(totalOf(hourly) + late + (open.hourly ?? 0)).toBe(want.valid);
  }, 150_000);

  it('stays exact when a third partial processor joins mid-run (rebalance)', async () => {
    const topic = await topics('scale-join');
    const group = `g-${topic}`;
    const out = join(dir, 'metrics');
    const lines: string[] = [];
    let seed = 200;
    const produceChunk = async (count: number) => {
      seed += 1;
      lines.push(...generatedTickets(count, seed, BAD));
      await produceTickets(topic, count, seed, { badFraction: BAD });
    };
    const procs: Record<string, RunningCli> = {
      p1: start(partialArgs(topic, group, 'p1')),
      p2: start(partialArgs(topic, group, 'p2')),
      merge: start(mergeArgs(topic, `${group}-merge`, out)),
    };
    await produceChunk(6000);
    await mergedAtLeast(out, 1000, procs, 'the first merged batches');
    const p3 = start(partialArgs(topic, group, 'p3'));
    procs.p3 = p3;
    // Tickets keep arriving while the group rebalances, until the newcomer has committed partials of
    // its own (it took a share of the partitions), then some more.
    const joined = () => /partial of batch \d+ committed/.test(p3.output().stderr);
    for (let i = 0; i < 8 && !joined(); i++) await produceChunk(3000);
    expect(joined(), `p3 never committed a partial:\n${p3.output().stderr.slice(-3000)}`).toBe(true);
    await produceChunk(3000);
    const total = lines.length;
    await mergedAtLeast(out, total, procs, 'every produced ticket merged', 90_000);
    await Promise.all(Object.entries(procs).map(([name, cli]) => stop(cli, name)));

    const batches = await expectCleanOutput(out);
    const want = expectedBreakdown(lines);
    expect(batchTotals(batches)).toEqual(want);
    await expectDeadLettersOnce(topic, total, want.invalid);
  }, 150_000);

  it('gives the same count in every hour and day as one ordinary processor on the same input', async () => {
    const topic = await topics('scale-same');
    const total = 20_000;
    // One production: every ticket dated within 48 h of nearly the same instant, so that with
    // --allowed-lateness 48h no ticket is late in either run.
    await produceTickets(topic, total, 301, { badFraction: BAD });
    const { valid } = expectedTotals(generatedTickets(total, 301, BAD));
    const rollups = ['--rollups', 'hour,day', '--allowed-lateness', '48h'];
    const outA = join(dir, 'single');
    const outB = join(dir, 'scaled');
    const group = `g-${topic}-scaled`;
    // The single processor writes dead letters to the same topic: only counts are compared here.
    const procs: Record<string, RunningCli> = {
      single: start(processArgs(topic, outA, ['--window', '300ms', '--max-records', '1000', ...rollups])),
      p1: start(partialArgs(topic, group, 'p1', rollups)),
      p2: start(partialArgs(topic, group, 'p2', rollups)),
      merge: start(mergeArgs(topic, `${group}-merge`, outB, rollups)),
    };
    await mergedAtLeast(outA, total, procs, 'every ticket in the single processor’s files', 90_000);
    await mergedAtLeast(outB, total, procs, 'every ticket merged', 90_000);
    await Promise.all(Object.entries(procs).map(([name, cli]) => stop(cli, name)));

    const a = await expectCleanOutput(outA);
    const b = await expectCleanOutput(outB);
    expect(batchTotals(b)).toEqual(batchTotals(a));
    expect(batchTotals(b).valid).toBe(valid);
    for (const batches of [a, b]) expect(batches.reduce((n, x) => n + (x.late_tickets as number), 0)).toBe(0);
    const hoursA = await perWindow(outA, 'hourly');
    const hoursB = await perWindow(outB, 'hourly');
    expect(Object.values(hoursA).reduce((n, c) => n + c, 0)).toBe(valid);
    expect(Object.keys(hoursA).length).toBeGreaterThan(40);
    expect(hoursB).toEqual(hoursA);
    expect(await perWindow(outB, 'daily')).toEqual(await perWindow(outA, 'daily'));
  }, 150_000);
});
