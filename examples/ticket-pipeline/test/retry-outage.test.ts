import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MotoServer, startMoto } from '../../../packages/s3-store/test/support/moto';
import { startTcpProxy, type TcpProxy } from '../../../packages/s3-store/test/support/tcp-proxy';
import { healthz, listeningPort, scrape } from './ops/ops-support';
import { type RunningCli, readBatches, runCli, startCli } from './support/cli';
import { expectExact } from './support/ticket-totals';
import { waitFor } from './support/wait';

const BUCKET = 'retries';
let moto: MotoServer;
let proxy: TcpProxy;
let dir: string;
let lines: string[];

beforeAll(async () => {
  moto = await startMoto({ buckets: [BUCKET] });
  proxy = await startTcpProxy(moto.port);
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-retry-'));
  const generated = await runCli(['generate', '--count', '1800', '--seed', '33', '--bad-fraction', '0.1']);
  expect(generated.code).toBe(0);
  lines = generated.stdout.trimEnd().split('\n');
});
afterAll(async () => {
  await proxy?.close();
  await moto?.stop();
  await rm(dir, { recursive: true, force: true });
});

type Batch = Record<string, unknown>;

const RETRIES_BEGIN = 'ticketflow_storage_retries_total{step="begin"}';

/**
 * Runs a processor on standard input through an outage of its storage that starts between two batches,
 * so that the next batch's first durable step — recording it in the checkpoint — meets it: `/healthz`
 * must answer 503 and the retries be counted meanwhile, and the run must end exact once it is over.
 */
async function throughOutage(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  outage: { start(): Promise<void>; end(): Promise<void> },
  readOutput: () => Promise<Batch[]>,
): Promise<RunningCli> {
  // On the main thread alone: the lines of one write are then folded as they are read, all in the batch
  // open at that moment, so that the outage meets the next batch's first step (with worker threads, the
  // last lines of a write may come back after the span closed and fall in the batch after).
  const cli = startCli(
    [
      'process',
      '--input',
      '-',
      '--workers',
      '1',
      '--window',
      '300ms',
      '--http-port',
      '0',
      '--sink-retry-for',
      '2m',
      ...args,
    ],
    { env, keepInputOpen: true },
  );
  try {
    const port = await listeningPort(cli);
    await cli.write(`${lines.slice(0, 600).join('\n')}\n`);
    await waitFor(() => cli.output().stderr.includes('batch_00000.json'), 'the first batch');

    await outage.start();
    await cli.write(`${lines.slice(600, 1200).join('\n')}\n`);
    const failing = await waitFor(async () => {
      const h = await healthz(port);
      return h.status === 503 ? h : undefined;
    }, '/healthz to answer 503');
    expect(failing.body.reasons.join(' ')).toMatch(/writing to the output fails: /);
    const during = await waitFor(async () => {
      const m = await scrape(port);
      return (m.get(RETRIES_BEGIN) ?? 0) >= 3 ? m : undefined;
    }, 'three retries of the checkpoint step');
    expect(during.get('ticketflow_healthy')).toBe(0);
    expect(cli.child.exitCode).toBeNull();

    await outage.end();
    await waitFor(
      () => /batch 1 recorded in the checkpoint after \d+ attempts/.test(cli.output().stderr),
      'the recovery',
    );
    const healthy = await waitFor(async () => {
      const h = await healthz(port);
      return h.status === 200 ? h : undefined;
    }, '/healthz to answer 200 again');
    expect(healthy.body).toMatchObject({ status: 'ok', sink: { failing: false } });
    await cli.write(`${lines.slice(1200).join('\n')}\n`);
    cli.endInput();
    const result = await cli.done;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/WARN +cannot record batch 1: .* \(attempt 1\); retrying in 500 ms/);
    expectExact(await readOutput(), lines);
    return cli;
  } finally {
    cli.child.kill('SIGKILL');
  }
}

describe('--sink-retry-for covers every durable step of a batch', () => {
  it('rides out a local checkpoint folder that cannot be written for a while (replaced by a file)', async () => {
    const out = join(dir, 'local');
    const checkpoint = join(out, '_checkpoint');
    await throughOutage(
      ['--out', out],
      {},
      {
        // A file where the folder was: every write under it fails with ENOTDIR, even for root.
        start: async () => {
          await rename(checkpoint, `${checkpoint}.away`);
          await writeFile(checkpoint, 'not a folder');
        },
        end: async () => {
          await rm(checkpoint);
          await rename(`${checkpoint}.away`, checkpoint);
        },
      },
      () => readBatches(out),
    );
  });

  it('rides out S3 being down for longer than the SDK retries, across the checkpoint step', async () => {
    const cli = await throughOutage(
      ['--out', `s3://${BUCKET}/outage`],
      // The SDK gives up after 2 attempts (about 200 ms): the outage outlasts it many times over.
      { ...moto.env(proxy.endpoint), AWS_MAX_ATTEMPTS: '2' },
      { start: () => proxy.setMode('refuse'), end: () => proxy.setMode('forward') },
      async () => {
        const keys = (await moto.listKeys(BUCKET, 'outage/')).filter((k) => /batch_\d+\.json$/.test(k));
        return Promise.all(
          keys.map(async (k) => JSON.parse(((await moto.getObject(BUCKET, k)) ?? '').toString())),
        );
      },
    );
    expect(cli.output().stderr).toMatch(
      /WARN +S3 \w+ of s3:\/\/retries\/outage\/\S+ failed \(ECONNREFUSED\), attempt 1 of 2; retrying in 200 ms/,
    );
    expect(cli.output().stderr).toMatch(
      /WARN +cannot record batch 1: cannot get s3:\/\/retries\/outage\/\S+: S3 still failing after 2 attempts \(ECONNREFUSED\) \(attempt 3\); retrying in 2000 ms/,
    );
  });
});
