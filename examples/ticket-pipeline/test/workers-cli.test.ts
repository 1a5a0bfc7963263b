import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBatches, recordsIn, runCli, startCli } from './support/cli';
import { lastPlan, rollupFiles } from './support/outputs';
import { expectedTotals, generatedTickets } from './support/ticket-totals';
import { waitFor } from './support/wait';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-workers-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Batch files without their processing-time fields (when each batch opened and closed). */
async function batchesOf(out: string): Promise<string[]> {
  return (await readBatches(out)).map((b) => {
    const { window_start: _start, window_end: _end, ...rest } = b;
    return JSON.stringify(rest);
  });
}

/** Everything a run leaves that must not depend on the threads: batches, rollups, dead letters, offsets. */
async function outputOf(out: string) {
  const plan = (await lastPlan(out)) as { positions: unknown; watermark: unknown; eventTime: unknown };
  return {
    batches: await batchesOf(out),
    hourly: [...(await rollupFiles(out, 'hourly'))],
    daily: [...(await rollupFiles(out, 'daily'))],
    deadLetters: await readFile(join(out, '_dead_letters.jsonl'), 'utf8'),
    commits: (await readdir(join(out, '_checkpoint', 'commits'))).sort(),
    plan: [plan.positions, plan.watermark, plan.eventTime],
  };
}

/** The dead letters of a file, each (lane, offset) once, in offset order. */
function distinctLetters(text: string): string[] {
  const byPlace = new Map<string, string>();
  for (const line of text.split('\n').filter((l) => l !== '')) {
    const { lane, offset } = JSON.parse(line) as { lane: string; offset: number };
    byPlace.set(`${lane}/${String(offset).padStart(12, '0')}`, line);
  }
  return [...byPlace.keys()].sort().map((key) => byPlace.get(key) as string);
}

describe('process --input --workers', () => {
  it('writes with two worker threads what one thread writes, and what it resumes after SIGKILL', async () => {
    const lines = generatedTickets(24_000, 11, 0.03);
    // A line that is not UTF-8 and an empty one, refused and skipped alike on every thread.
    const bytes = Buffer.concat([
      Buffer.from(`${lines.slice(0, 5000).join('\n')}\n`),
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a, 0x0a]),
      Buffer.from(`${lines.slice(5000).join('\n')}\n`),
    ]);
    const input = join(dir, 'tickets.jsonl');
    await writeFile(input, bytes);
    const args = (out: string, workers: number, from = input) => [
      'process',
      '--input',
      from,
      '--workers',
      String(workers),
      '--max-records',
      '2500',
      '--rollups',
      'hour,day',
      '--out',
      out,
      '--quiet',
    ];
    const one = join(dir, 'one');
    const first = await runCli(args(one, 1));
    expect(first.code, first.stderr).toBe(0);
    const two = join(dir, 'two');
    const second = await runCli(args(two, 2));
    expect(second.code, second.stderr).toBe(0);

    const reference = await outputOf(one);
    const { valid, invalid } = expectedTotals(lines);
    const totals = (await readBatches(one)).reduce<[number, number]>(
      (sum, b) => [sum[0] + (b.total_tickets as number), sum[1] + (b.invalid_tickets as number)],
      [0, 0],
    );
    expect(totals).toEqual([valid, invalid + 1]);
    expect(reference.batches.length).toBe(10);
    expect(reference.hourly.length).toBeGreaterThan(0);
    expect(reference.deadLetters).toContain('line is not valid UTF-8');
    expect(await outputOf(two)).toEqual(reference);

    // Killed mid-input with two workers (the input comes from a pipe, paused after 9,000 lines), then
    // resumed from the file: the same files again.
    const killed = join(dir, 'killed');
    const running = startCli(args(killed, 2, '-'), { keepInputOpen: true });
    await running.write(bytes.subarray(0, bytes.indexOf(`${lines[9000] as string}\n`)));
    await waitFor(async () => (await recordsIn(killed)) >= 7500, 'three batches written');
    running.child.kill('SIGKILL');
    await running.done;
    expect(await recordsIn(killed)).toBeLessThan(valid + invalid);
    const resumed = await runCli(args(killed, 2));
    expect(resumed.code, resumed.stderr).toBe(0);
    // The dead-letter file is at least once: letters of the batch open at the kill were written with the
    // batches before it, and again after the restart, each with its lane and offset.
    const { deadLetters, ...resumedOutput } = await outputOf(killed);
    const { deadLetters: referenceLetters, ...referenceOutput } = reference;
    expect(resumedOutput).toEqual(referenceOutput);
    expect(distinctLetters(deadLetters)).toEqual(distinctLetters(referenceLetters));
  });
});
