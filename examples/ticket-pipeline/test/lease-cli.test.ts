import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MotoServer, startMoto } from '../../../packages/s3-store/test/support/moto';
import { readBatches, runCli, startCli } from './support/cli';
import { expectExact } from './support/ticket-totals';
import { waitFor } from './support/wait';

const BUCKET = 'leases';
let moto: MotoServer;
let dir: string;
let input: string;
let lines: string[];

beforeAll(async () => {
  moto = await startMoto({ buckets: [BUCKET] });
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-lease-'));
  const generated = await runCli(['generate', '--count', '2000', '--seed', '21', '--bad-fraction', '0.1']);
  expect(generated.code).toBe(0);
  lines = generated.stdout.trimEnd().split('\n');
  input = join(dir, 'tickets.jsonl');
  await writeFile(input, generated.stdout);
});
afterAll(async () => {
  await moto?.stop();
  await rm(dir, { recursive: true, force: true });
});

type Batch = Record<string, unknown>;

async function s3Batches(prefix: string): Promise<Batch[]> {
  const keys = (await moto.listKeys(BUCKET, prefix)).filter((k) => /batch_\d+\.json$/.test(k));
  const batches = await Promise.all(
    keys.map(async (k) => JSON.parse(((await moto.getObject(BUCKET, k)) ?? Buffer.alloc(0)).toString())),
  );
  return batches.sort((a, b) => a.batch_id - b.batch_id);
}

/** The only `ticket-pipeline:` line of a run's stderr. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('ticket-pipeline:'));
}

/**
 * A first processor reading standard input holds `out`; a second one on the same output, with another
 * consumer group's worth of independence (its own input file), is refused; the first then finishes and
 * its output is exact.
 */
async function secondOwnerRefused(out: string, env: NodeJS.ProcessEnv, readOutput: () => Promise<Batch[]>) {
  const first = startCli(['process', '--input', '-', '--window', '300ms', '--out', out], {
    env,
    keepInputOpen: true,
  });
  try {
    await first.write(`${lines.slice(0, 1000).join('\n')}\n`);
    await waitFor(() => first.output().stderr.includes('batch_00000.json'), 'the first batch');

    const second = await runCli(['process', '--input', input, '--out', out], { env });
    expect(second.code).toBe(1);
    const errors = errorLines(second.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(
        `^ticket-pipeline: ${out.replace(/[/.]/g, '\\$&')}/? is in use by another processor \\(host \\S+, pid ${first.child.pid}\\), whose lease \\(.*\\) expires at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(in \\d+ s\\) unless renewed: stop that processor`,
      ),
    );
    expect(second.stderr).not.toMatch(/\[✓\]|^\s+at /m);

    await first.write(`${lines.slice(1000).join('\n')}\n`);
    first.endInput();
    const result = await first.done;
    expect(result.code).toBe(0);
    expectExact(await readOutput(), lines);
  } finally {
    first.child.kill('SIGKILL');
  }
}

describe('one owner per output (lease)', () => {
  it('refuses a second processor on the same local --out with one line; the first one stays exact', async () => {
    const out = join(dir, 'local-two');
    await secondOwnerRefused(out, {}, () => readBatches(out));
  });

  it('refuses a second processor on the same s3:// --out with one line; the first one stays exact', async () => {
    await secondOwnerRefused(`s3://${BUCKET}/two`, moto.env(), () => s3Batches('two/'));
    const leaseKeys = await moto.listKeys(BUCKET, 'two/_checkpoint/lease/');
    expect(leaseKeys).toHaveLength(1);
    const record = JSON.parse(((await moto.getObject(BUCKET, leaseKeys[0] as string)) ?? '').toString());
    expect(record).toMatchObject({ released: true });
  });

  it('takes over the lease of a SIGKILLed processor on this host at once, and the restart is exact', async () => {
    const out = join(dir, 'killed');
    const args = ['--window', '300ms', '--max-records', '400', '--out', out];
    const first = startCli(['process', '--input', '-', ...args], { keepInputOpen: true });
    await first.write(`${lines.slice(0, 1200).join('\n')}\n`);
    await waitFor(() => first.output().stderr.includes('batch_00001.json'), 'two batches');
    first.child.kill('SIGKILL');
    await first.done;
    const leaseDir = join(out, '_checkpoint', 'lease');
    const [record] = await readdir(leaseDir);
    const held = JSON.parse(await readFile(join(leaseDir, record as string), 'utf8'));
    expect(held).toMatchObject({ pid: first.child.pid });
    expect(held.released).toBeUndefined();

    // Its lease has not expired, but its process is gone (same host, same PID namespace): no waiting.
    const restart = await runCli(['process', '--input', input, ...args]);
    expect(restart.code).toBe(0);
    expect(restart.stderr).toMatch(
      new RegExp(
        `WARN +took over the lease on \\S+ from host \\S+, pid ${first.child.pid}, which was never released \\(that processor was killed`,
      ),
    );
    expectExact(await readBatches(out), lines);
  });
});
