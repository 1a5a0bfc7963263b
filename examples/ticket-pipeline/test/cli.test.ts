import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBatches, runCli, startCli } from './support/cli';
import { expectedTotals, sumRows } from './support/ticket-totals';
import { waitFor } from './support/wait';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ticket-pipeline CLI', () => {
  it('replays a generated file end to end with every total checked', async () => {
    const generated = await runCli(['generate', '--count', '3000', '--seed', '7', '--bad-fraction', '0.1']);
    expect(generated.code).toBe(0);
    const lines = generated.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3000);
    const input = join(dir, 'tickets.jsonl');
    await writeFile(input, generated.stdout);
    const out = join(dir, 'metrics');

    const result = await runCli(['process', '--input', input, '--out', out, '--max-records', '700']);
    expect(result.stderr).toContain('[✓] JSON metrics written →');
    expect(result.code).toBe(0);

    const batches = await readBatches(out);
    const expected = expectedTotals(lines);
    expect(batches.map((b) => b.batch_id)).toEqual([0, 1, 2, 3, 4]);
    expect(batches.reduce((s, b) => s + (b.total_tickets as number), 0)).toBe(expected.valid);
    expect(batches.reduce((s, b) => s + (b.invalid_tickets as number), 0)).toBe(expected.invalid);
    expect(expected.invalid).toBeGreaterThan(150);
    expect(sumRows(batches, 'by_type', 'request_type', 'count_by_request_type')).toEqual(expected.byType);
    expect(sumRows(batches, 'by_team', 'support_team', 'count_by_support_team')).toEqual(expected.byTeam);
    expect(sumRows(batches, 'tickets_per_hour', 'hour', 'tickets_per_hour')).toEqual(
      Object.fromEntries(Object.entries(expected.byHour).map(([h, n]) => [h, n])),
    );
    const slaTotal = batches.reduce((s, b) => s + (b.sla_mean as number) * (b.total_tickets as number), 0);
    expect(slaTotal).toBeCloseTo(expected.slaSum, 6);
    for (const b of batches) {
      expect([1, 4, 24, 72]).toContain(b.sla_median);
      expect(Object.keys(b)).toEqual([
        'batch_id',
        'window_start',
        'window_end',
        'total_tickets',
        'invalid_tickets',
        'tickets_per_hour',
        'tickets_per_day',
        'by_type',
        'by_priority',
        'by_team',
        'sla_mean',
        'sla_median',
        'priority_score_mean',
        'sla_p90',
        'sla_p99',
        'sla_mean_by_team',
        'sla_tdigest',
        'late_tickets',
        'watermark',
      ]);
    }

    const letters = (await readFile(join(out, '_dead_letters.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(letters).toHaveLength(expected.invalid);
    const first = JSON.parse(letters[0] as string);
    expect(first).toMatchObject({ lane: 'input' });
    expect(typeof first.reason).toBe('string');
    expect(lines[first.offset]).toBe(first.value);
  });

  it('resumes from its checkpoint: a second replay of the same file adds no batch', async () => {
    const generated = await runCli(['generate', '--count', '500', '--seed', '3']);
    const input = join(dir, 'tickets.jsonl');
    await writeFile(input, generated.stdout);
    const out = join(dir, 'metrics');
    expect((await runCli(['process', '--input', input, '--out', out])).code).toBe(0);
    await writeFile(
      input,
      generated.stdout + (await runCli(['generate', '--count', '20', '--seed', '4'])).stdout,
    );
    expect((await runCli(['process', '--input', input, '--out', out])).code).toBe(0);
    const batches = await readBatches(out);
    expect(batches.map((b) => [b.batch_id, b.total_tickets])).toEqual([
      [0, 500],
      [1, 20],
    ]);
    expect(await readdir(join(out, '_checkpoint'))).toEqual(['commits', 'lease', 'offsets']);
  });

  it('reads JSON Lines from standard input with --input -', async () => {
    const generated = await runCli(['generate', '--count', '50', '--seed', '9']);
    const out = join(dir, 'metrics');
    const result = await runCli(['process', '--input', '-', '--out', out], { input: generated.stdout });
    expect(result.code).toBe(0);
    expect((await readBatches(out)).map((b) => b.total_tickets)).toEqual([50]);
  });

  it('gives a one-line error and exit code 2 for a bad flag value', async () => {
    const result = await runCli(['run', '--window', 'soon']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      'ticket-pipeline: --window must be a positive duration such as 500ms, 30s, 5m or 1h, got "soon"',
    ]);
  });

  it('refuses a duration longer than a timer can wait instead of cutting 1 ms windows', async () => {
    const input = join(dir, 'one.jsonl');
    await writeFile(input, '{}\n');
    const result = await runCli(['process', '--input', input, '--out', join(dir, 'm'), '--window', '600h']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      'ticket-pipeline: --window must be at most 596h (2147483647 ms, the longest a timer can wait), got "600h"',
    ]);
    expect(result.stderr).not.toContain('TimeoutOverflowWarning');
    // The longest span a timer honours is accepted.
    const longest = await runCli(['process', '--input', input, '--out', join(dir, 'n'), '--window', '596h']);
    expect(longest.code).toBe(0);
    expect(await readBatches(join(dir, 'n'))).toHaveLength(1);
  });

  it('gives a one-line error for an unknown flag and for an unknown command', async () => {
    const unknownFlag = await runCli(['generate', '--count', '1', '--colour', 'red']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknownFlag.stderr.trim()).toBe("ticket-pipeline: unknown option '--colour' (see --help)");
    const unknownCommand = await runCli(['transmogrify']);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr.trim()).toBe("ticket-pipeline: unknown command 'transmogrify' (see --help)");
  });

  it('suggests the flag meant by a misspelt one', async () => {
    const result = await runCli(['generate', '--cuont', '3']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      "ticket-pipeline: unknown option '--cuont' (Did you mean --count?) (see --help)\n",
    );
  });

  it('prints its version, and help that describes every flag with its allowed values, default and variable', async () => {
    const version = await runCli(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n', stderr: '' });
    const help = await runCli(['process', '--help']);
    expect(help.code).toBe(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    expect(text).toContain(
      '--layout <layout> batch file names: flat, or hive partitions dt=/hour=; one of flat, hive (default: "flat", env: TICKETFLOW_LAYOUT)',
    );
    expect(text).toContain(
      '--brokers <value> Kafka bootstrap servers, HOST:PORT[,HOST:PORT]; a non-empty value (env: KAFKA_BROKERS)',
    );
    for (const flag of [
      '--input',
      '--window',
      '--out',
      '--start-from',
      '--on-data-loss',
      '--quiet',
      '--log-level',
    ]) {
      expect(text).toMatch(new RegExp(`${flag} (<[a-z-]+> )?\\S.*?\\(.*env: [A-Z_]+\\)`));
    }
  });

  it('takes a negative rate as the value it is, and refuses it naming the flag', async () => {
    const result = await runCli(['run', '--rate', '-1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('ticket-pipeline: --rate must be a positive number per second, got "-1"\n');
  });

  it('names --rollups, --allowed-lateness and the arrival flags, or their variables, in one line', async () => {
    const rollups = await runCli(['process', '--input', join(dir, 'x.jsonl'), '--rollups', 'hour,week']);
    expect(rollups.code).toBe(2);
    expect(rollups.stderr).toBe(
      'ticket-pipeline: --rollups must be none, or a comma-separated list of hour and day (hour,day), got "hour,week"\n',
    );
    const lateness = await runCli(['run'], { env: { TICKETFLOW_ALLOWED_LATENESS: '-1m' } });
    expect(lateness.code).toBe(2);
    expect(lateness.stderr).toBe(
      'ticket-pipeline: TICKETFLOW_ALLOWED_LATENESS must be 0 or a positive duration such as 500ms, 30s, 5m or 1h, got "-1m"\n',
    );
    const idle = await runCli(['run', '--idle-timeout', '0s']);
    expect(idle.stderr).toBe(
      'ticket-pipeline: --idle-timeout must be a positive duration such as 500ms, 30s, 5m or 1h, got "0s"\n',
    );
    const arrivals = await runCli(['run', '--late-fraction', '0.9', '--very-late-fraction', '0.2']);
    expect(arrivals.code).toBe(2);
    expect(arrivals.stderr).toBe(
      'ticket-pipeline: --very-late-fraction plus the late fraction (0.9) must be at most 1, got "0.2"\n',
    );
    const generate = await runCli(['generate', '--count', '1', '--late-fraction', '0.1']);
    expect(generate.code).toBe(2);
    expect(generate.stderr).toMatch(/^ticket-pipeline: unknown option '--late-fraction' .*\(see --help\)\n$/);
  });

  it('describes the rollup and arrival flags in help', async () => {
    const run = (await runCli(['run', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(run).toContain(
      '--rollups <list> event-time rollups to write once final: <out>/hourly/dt=…/hour=…/ and <out>/daily/dt=…/; none, or a comma-separated list of hour and day (hour,day) (default: "none", env: TICKETFLOW_ROLLUPS)',
    );
    expect(run).toMatch(
      /--allowed-lateness <duration> .*\(default: "10m", env: TICKETFLOW_ALLOWED_LATENESS\)/,
    );
    expect(run).toMatch(/--idle-timeout <duration> .*\(default: "1m", env: TICKETFLOW_IDLE_TIMEOUT\)/);
    expect(run).toMatch(/--late-fraction <fraction> .*\(default: "0.05", env: TICKETFLOW_LATE_FRACTION\)/);
    expect(run).toMatch(
      /--very-late-fraction <fraction> .*\(default: "0.005", env: TICKETFLOW_VERY_LATE_FRACTION\)/,
    );
    const processHelp = (await runCli(['process', '--help'])).stdout;
    for (const flag of ['--rollups <list>', '--allowed-lateness <duration>', '--idle-timeout <duration>']) {
      expect(processHelp).toContain(flag);
    }
    expect(processHelp).not.toContain('--late-fraction');
  });

  // Needs the event-time engine (--rollups) of @ticketflow/core and the processor.
  it('run --rollups hour,day closes past hours at once and counts the tickets that arrive hours late', async () => {
    const out = join(dir, 'run-rollups');
    const run = startCli([
      'run',
      '--window',
      '1s',
      '--rate',
      '1000',
      '--seed',
      '11',
      '--very-late-fraction',
      '0.05',
      '--rollups',
      'hour,day',
      '--out',
      out,
    ]);
    await Promise.race([
      waitFor(() => run.output().stderr.includes('batch_00002.json'), 'three batches', 30_000),
      run.done.then((r) => {
        throw new Error(`run exited early (${r.code}): ${r.stderr}`);
      }),
    ]);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(0);
    const batches = await readBatches(out);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    // Nothing is late in the first batch; afterwards every hours-late ticket is (about 50 in each full
    // 1 s batch; the last one, which SIGTERM closed early, may be short).
    expect(batches[0]?.late_tickets).toBe(0);
    const late = batches.slice(1).map((b) => b.late_tickets as number);
    for (const n of late.slice(0, -1)) expect(n).toBeGreaterThan(10);
    // The watermark follows the generator's clock: the newest created_at, seconds old, minus 10 minutes.
    let previous = Number.NEGATIVE_INFINITY;
    for (const b of batches) {
      const watermark = Date.parse(b.watermark as string);
      const end = Date.parse(b.window_end as string);
      expect(watermark).toBeLessThanOrEqual(end - 10 * 60_000);
      expect(watermark).toBeGreaterThan(end - 10 * 60_000 - 60_000);
      expect(watermark).toBeGreaterThanOrEqual(previous);
      previous = watermark;
    }
    // The hours-late tickets of the first batch opened past hours, final as soon as it was written.
    const hourly = await readHourly(join(out, 'hourly'));
    const first = hourly.filter((h) => h.final_batch_id === 0);
    expect(first.length).toBeGreaterThan(0);
    const watermarkOf = (id: number) => Date.parse(batches[id]?.watermark as string);
    for (const h of hourly) {
      const id = h.final_batch_id as number;
      if (id < batches.length - 1)
        expect(Date.parse(h.window_end as string)).toBeLessThanOrEqual(watermarkOf(id));
      if (id > 0) expect(Date.parse(h.window_end as string)).toBeGreaterThan(watermarkOf(id - 1));
    }
    const valid = batches.reduce((s, b) => s + (b.total_tickets as number), 0);
    const lateTotal = late.reduce((s, n) => s + n, 0);
    const inHours = hourly.reduce((s, h) => s + (h.total_tickets as number), 0);
    // Hours still open when the run stopped are kept for the next run, not written.
    expect(inHours + lateTotal).toBeLessThanOrEqual(valid);
    expect(inHours).toBeGreaterThan(0);
  });

  it('refuses an --out that is a file, and an --input that is a folder, before any work', async () => {
    const file = join(dir, 'plain-file');
    await writeFile(file, '{}\n');
    const out = await runCli(['process', '--input', file, '--out', file]);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(
      `ticket-pipeline: --out must be a folder or s3://bucket/prefix, got ${JSON.stringify(file)}, a file\n`,
    );
    const input = await runCli(['process', '--input', dir, '--out', join(dir, 'o')], {
      env: { TICKETFLOW_OUT: file },
    });
    expect(input.code).toBe(2);
    expect(input.stderr).toBe(
      `ticket-pipeline: --input must be a file, or - for standard input, got ${JSON.stringify(dir)}, a folder\n`,
    );
    const fromEnv = await runCli(['run'], { env: { TICKETFLOW_OUT: file } });
    expect(fromEnv.stderr).toBe(
      `ticket-pipeline: TICKETFLOW_OUT must be a folder or s3://bucket/prefix, got ${JSON.stringify(file)}, a file\n`,
    );
  });

  it('is not stopped by generic variables of other programs such as LOG_LEVEL=trace', async () => {
    const result = await runCli(['generate', '--count', '2'], {
      env: { LOG_LEVEL: 'trace', LOG_FORMAT: 'xml' },
    });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.trimEnd().split('\n')).toHaveLength(2);
  });

  it('reads settings from the environment and names the variable when one is bad', async () => {
    const result = await runCli(['run'], { env: { TICKETFLOW_RATE: '-5' } });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'ticket-pipeline: TICKETFLOW_RATE must be a positive number per second, got "-5"',
    );
  });

  it('fails with a one-line error and exit code 1 when the input file is missing', async () => {
    const result = await runCli(['process', '--input', join(dir, 'nope.jsonl'), '--out', join(dir, 'o')]);
    expect(result.code).toBe(1);
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('ticket-pipeline:'));
    expect(errors).toEqual([`ticket-pipeline: input file not found: ${join(dir, 'nope.jsonl')}`]);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});

/** Every `hourly/dt=…/hour=…/metrics.json` under a folder, parsed. */
async function readHourly(folder: string): Promise<Array<Record<string, unknown>>> {
  const paths = (await readdir(folder, { recursive: true })).filter((p) =>
    /^dt=\d{4}-\d\d-\d\d\/hour=\d\d\/metrics\.json$/.test(p),
  );
  return Promise.all(paths.map(async (p) => JSON.parse(await readFile(join(folder, p), 'utf8'))));
}
