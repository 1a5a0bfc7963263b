import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBatches, recordsIn, startCli } from '../support/cli';
import { httpGet, listeningPort, spawnCli } from './ops-support';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-startup-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Resolves once the child process runs (it has executed node). */
const started = (child: ReturnType<typeof startCli>['child']) =>
  new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });

describe('a SIGTERM at any moment of start-up', () => {
  it('stops the embedded pipeline gracefully with exit 0, from its first handled instant to its first batch', async () => {
    // Node.js itself needs a few tens of milliseconds before any module runs; from then on, through the
    // loading of the program (the first ~0.3 s), settings, the HTTP server and the first records, every
    // moment is a graceful stop.
    for (const delayMs of [400, 700, 1100, 1600, 2500]) {
      const out = join(dir, `run-${delayMs}`);
      const cli = startCli(['run', '--window', '1s', '--rate', '500', '--out', out, '--http-port', '0']);
      await started(cli.child);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      cli.child.kill('SIGTERM');
      const result = await cli.done;
      expect({ delayMs, code: result.code, signal: result.signal }).toEqual({
        delayMs,
        code: 0,
        signal: null,
      });
      expect(result.stderr).not.toMatch(/undefined/);
      expect(result.stderr).toMatch(/ INFO {2}done /);
      // Whatever was read before the signal is in a written batch: the count in the files equals the log's.
      const done = /done batches=(\d+) records=(\d+) invalidRecords=(\d+)/.exec(result.stderr);
      expect(done).not.toBeNull();
      expect(await recordsIn(out)).toBe(Number(done?.[2]) + Number(done?.[3]));
      expect((await readBatches(out).catch(() => [])).length).toBe(Number(done?.[1]));
    }
  });

  it('ends a replay of standard input gracefully too, before any record was read', async () => {
    const input = join(dir, 'in.jsonl');
    await writeFile(input, '');
    const cli = spawnCli(['process', '--input', '-', '--out', join(dir, 'o')]);
    await started(cli.child);
    await new Promise((resolve) => setTimeout(resolve, 400));
    cli.child.kill('SIGTERM');
    const result = await cli.done;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/SIGTERM received/);
    expect(result.stderr).toMatch(/done batches=0 records=0 invalidRecords=0\n/);
  });
});

describe('the HTTP server', () => {
  it('listens on 127.0.0.1 only unless --http-host says otherwise', async () => {
    const cli = spawnCli(['run', '--window', '1s', '--out', join(dir, 'h'), '--http-port', '0']);
    try {
      const port = await listeningPort(cli);
      expect(cli.output().stderr).toMatch(/http listening on :\d+ host=127\.0\.0\.1/);
      // The health report, 200 once running or 503 while still starting.
      const health = await httpGet(port, '/healthz');
      expect([
        [200, 'ok'],
        [503, 'starting'],
      ]).toContainEqual([health.status, JSON.parse(health.body).status]);
      // Another loopback address reaches a server on every interface, not one bound to 127.0.0.1.
      const other = await new Promise<string>((resolve) => {
        const socket = connect({ host: '127.0.0.2', port }, () => {
          socket.destroy();
          resolve('connected');
        });
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      expect(other).toBe('ECONNREFUSED');
    } finally {
      cli.child.kill('SIGTERM');
      await cli.done;
    }
  });
});
