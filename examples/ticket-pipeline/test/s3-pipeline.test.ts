import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MotoServer, startMoto } from '../../../packages/s3-store/test/support/moto';
import { startTcpProxy, type TcpProxy } from '../../../packages/s3-store/test/support/tcp-proxy';
import { runCli, startCli } from './support/cli';
import { expectedTotals, sumRows } from './support/ticket-totals';

const BUCKET = 'tickets';
let moto: MotoServer;
/** A second server that checks credentials. */
let authMoto: MotoServer;
let proxy: TcpProxy;
let dir: string;
let input: string;
let lines: string[];

beforeAll(async () => {
  [moto, authMoto] = await Promise.all([
    startMoto({ buckets: [BUCKET] }),
    startMoto({ buckets: [BUCKET], auth: true }),
  ]);
  proxy = await startTcpProxy(moto.port);
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-s3-cli-'));
  const generated = await runCli(['generate', '--count', '3000', '--seed', '11', '--bad-fraction', '0.1']);
  expect(generated.code).toBe(0);
  lines = generated.stdout.trimEnd().split('\n');
  input = join(dir, 'tickets.jsonl');
  await writeFile(input, generated.stdout);
});
afterAll(async () => {
  await proxy?.close();
  await Promise.all([moto?.stop(), authMoto?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

/** The batch objects under a prefix, parsed (gunzipped when `.gz`), in batch order. */
async function batchObjects(prefix: string): Promise<Array<Record<string, unknown>>> {
  const keys = (await moto.listKeys(BUCKET, prefix)).filter((k) => /batch_\d+\.json(\.gz)?$/.test(k));
  const batches = await Promise.all(
    keys.map(async (key) => {
      const bytes = (await moto.getObject(BUCKET, key)) ?? Buffer.alloc(0);
      return JSON.parse((key.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8'));
    }),
  );
  return batches.sort((a, b) => a.batch_id - b.batch_id);
}

async function deadLetterCount(prefix: string): Promise<number> {
  let count = 0;
  for (const key of await moto.listKeys(BUCKET, `${prefix}_dead_letters/`)) {
    count += ((await moto.getObject(BUCKET, key))?.toString('utf8').trimEnd().split('\n') ?? []).length;
  }
  return count;
}

function expectTotalsOf(batches: Array<Record<string, unknown>>) {
  const expected = expectedTotals(lines);
  expect(batches.reduce((s, b) => s + (b.total_tickets as number), 0)).toBe(expected.valid);
  expect(batches.reduce((s, b) => s + (b.invalid_tickets as number), 0)).toBe(expected.invalid);
  expect(sumRows(batches, 'by_type', 'request_type', 'count_by_request_type')).toEqual(expected.byType);
  expect(sumRows(batches, 'by_team', 'support_team', 'count_by_support_team')).toEqual(expected.byTeam);
  return expected;
}

describe('ticket-pipeline process --out s3://bucket/prefix', () => {
  it('writes batch objects whose totals equal the input, with the checkpoint and dead letters beside them', async () => {
    const result = await runCli(
      ['process', '--input', input, '--out', `s3://${BUCKET}/flat`, '--max-records', '700'],
      {
        env: moto.env(),
      },
    );
    expect(result.stderr).toContain(`[✓] JSON metrics written → s3://${BUCKET}/flat/batch_00000.json`);
    expect(result.code).toBe(0);

    const keys = await moto.listKeys(BUCKET, 'flat/');
    expect(keys.filter((k) => k.includes('batch_'))).toEqual(
      [0, 1, 2, 3, 4].map((i) => `flat/batch_0000${i}.json`),
    );
    expect(keys).toContain('flat/_checkpoint/commits/4.json');
    const batches = await batchObjects('flat/');
    expect(batches.map((b) => b.batch_id)).toEqual([0, 1, 2, 3, 4]);
    const expected = expectTotalsOf(batches);
    expect(await deadLetterCount('flat/')).toBe(expected.invalid);
    expect(expected.invalid).toBeGreaterThan(200);
  });

  it('writes the Hive layout, gzip-compressed, and resumes from the checkpoint in the bucket', async () => {
    const args = [
      'process',
      '--input',
      input,
      '--out',
      `s3://${BUCKET}/hive/metrics`,
      '--layout',
      'hive',
      '--gzip',
    ];
    const first = await runCli([...args, '--max-records', '1000'], { env: moto.env() });
    expect(first.code).toBe(0);
    const keys = (await moto.listKeys(BUCKET, 'hive/metrics/')).filter((k) => k.includes('batch_'));
    expect(keys).toHaveLength(3);
    for (const key of keys)
      expect(key).toMatch(/^hive\/metrics\/dt=\d{4}-\d\d-\d\d\/hour=\d\d\/batch_0000[0-2]\.json\.gz$/);
    const batches = await batchObjects('hive/metrics/');
    for (const b of batches) {
      const start = b.window_start as string;
      expect(keys).toContain(
        `hive/metrics/dt=${start.slice(0, 10)}/hour=${start.slice(11, 13)}/batch_0000${b.batch_id}.json.gz`,
      );
    }
    expectTotalsOf(batches);

    const again = await runCli(args, { env: moto.env() });
    expect(again.code).toBe(0);
    expect((await batchObjects('hive/metrics/')).length).toBe(3);
  });

  it('rides out the S3 server being down for a few seconds mid-run: it retries and loses no batch', async () => {
    const run = startCli(
      ['process', '--input', input, '--out', `s3://${BUCKET}/outage`, '--max-records', '50'],
      {
        env: moto.env(proxy.endpoint),
      },
    );
    while (!run.output().stderr.includes('batch_00003.json')) {
      if (run.child.exitCode !== null) break;
      await sleep(20);
    }
    await proxy.setMode('refuse');
    await sleep(3000);
    await proxy.setMode('forward');
    const result = await run.done;
    expect(result.stderr).toMatch(
      /WARN +S3 \w+ of s3:\/\/tickets\/outage\/\S+ failed \(ECONN(REFUSED|RESET)\), attempt 1 of 8; retrying in 200 ms/,
    );
    expect(result.code).toBe(0);
    const batches = await batchObjects('outage/');
    expect(batches.map((b) => b.batch_id)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    const expected = expectTotalsOf(batches);
    expect(await deadLetterCount('outage/')).toBe(expected.invalid);
  });

  it('fails with one line on stderr and exit code 1 when S3 refuses the credentials', async () => {
    const secret = 'aVeryWrongSecretKey/0123456789abcdefghijkl';
    const result = await runCli(['process', '--input', input, '--out', `s3://${BUCKET}/denied`], {
      env: authMoto.env(authMoto.endpoint, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: secret }),
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      `ticket-pipeline: S3 refused the credentials for bucket "${BUCKET}" (InvalidAccessKeyId): check AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
    ]);
    expect(result.stderr).not.toContain(secret);
    expect(await authMoto.listKeys(BUCKET)).toEqual([]);
  });

  it('fails with one line on stderr and exit code 1 when the bucket does not exist', async () => {
    const result = await runCli(['process', '--input', input, '--out', 's3://no-such-bucket/metrics'], {
      env: moto.env(),
    });
    expect(result.code).toBe(1);
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('ticket-pipeline:'));
    expect(errors).toEqual(['ticket-pipeline: S3 bucket "no-such-bucket" does not exist']);
    expect(result.stderr).not.toMatch(/\[✓\]|^\s+at /m);
  });

  it('refuses a bad bucket name or layout with one line and exit code 2', async () => {
    const badBucket = await runCli(['process', '--input', input, '--out', 's3://Bad_Bucket/x'], {
      env: moto.env(),
    });
    expect(badBucket.code).toBe(2);
    expect(badBucket.stderr.trim()).toMatch(
      /^ticket-pipeline: --out: "Bad_Bucket" is not a valid S3 bucket name/,
    );
    const badLayout = await runCli([
      'process',
      '--input',
      input,
      '--out',
      `s3://${BUCKET}/x`,
      '--layout',
      'daily',
    ]);
    expect(badLayout.code).toBe(2);
    expect(badLayout.stderr.trim()).toBe('ticket-pipeline: --layout must be one of flat, hive, got "daily"');
  });
});
