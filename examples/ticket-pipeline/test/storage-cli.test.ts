import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLease, localBlobStore } from '@ticketflow/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli';

let dir: string;
let input: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-storage-cli-'));
  const generated = await runCli(['generate', '--count', '500', '--seed', '5']);
  expect(generated.code).toBe(0);
  input = join(dir, 'tickets.jsonl');
  await writeFile(input, generated.stdout);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('ticket-pipeline:'));

describe('the processor and its storage', () => {
  it('removes the temporary files of killed writes at start, only once it holds the lease', async () => {
    const out = join(dir, 'leftovers');
    await mkdir(join(out, '_checkpoint', 'offsets'), { recursive: true });
    const leftovers = ['batch_00003.json.4242.17.tmp', '_checkpoint/offsets/4.json.4242.18.tmp'];
    for (const name of leftovers) await writeFile(join(out, name), '');

    // While another process holds the lease, its temporary files may be in use: they stay.
    const other = await acquireLease(localBlobStore(out), { holder: { host: 'elsewhere', pid: 7 } });
    const refused = await runCli(['process', '--input', input, '--out', out]);
    expect(refused.code).toBe(1);
    expect(errorLines(refused.stderr)).toEqual([
      expect.stringMatching(/is in use by another processor \(host elsewhere, pid 7\)/),
    ]);
    for (const name of leftovers)
      expect(await readdir(join(out, name, '..'))).toContain(name.split('/').pop());

    await other.release();
    const result = await runCli(['process', '--input', input, '--out', out]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/INFO +removed 2 leftover temporary file\(s\) of interrupted writes/);
    const files = await readdir(out, { recursive: true });
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(files).toContain('batch_00000.json');
  });

  it('stops with one line naming the path and "free space" when the output file system is full', async () => {
    const mount = await mkdtemp(join(dir, 'tmpfs-'));
    // A real, tiny, full file system (the tests run as root, which may mount one).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount]);
    try {
      await writeFile(join(mount, 'filler'), Buffer.alloc(56 * 1024, 'x'));
      const result = await runCli(['process', '--input', input, '--out', mount]);
      expect(result.code).toBe(1);
      const errors = errorLines(result.stderr);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(
        new RegExp(
          `^ticket-pipeline: cannot (record|write|commit) .*: cannot write ${mount}/\\S+: no space left on the device \\(ENOSPC\\): free space on the file system holding ${mount}`,
        ),
      );
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect((await readdir(mount, { recursive: true })).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      execFileSync('umount', ['-l', mount]);
    }
  });
});
