import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli';

let dir: string;
let input: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-output-folder-'));
  input = join(dir, 'one.jsonl');
  await writeFile(input, '{}\n');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('an output folder that cannot be created', () => {
  // procfs answers ENOENT to a new folder whose parent exists: a recursive mkdir spun there for ever,
  // at full CPU, deaf to SIGTERM. Now each location is created one level at a time before any work.
  it.each([
    ['--out', ['--out', '/proc/ticketflow-nope'], '/proc/ticketflow-nope'],
    [
      '--dead-letters',
      ['--out', 'OUT', '--dead-letters', '/proc/ticketflow-x/dl.jsonl'],
      '/proc/ticketflow-x',
    ],
    ['--checkpoint', ['--out', 'OUT', '--checkpoint', '/proc/ticketflow-c'], '/proc/ticketflow-c'],
  ])('stops at once with one line for %s', async (_flag, flags, folder) => {
    const args = flags.map((a) => (a === 'OUT' ? join(dir, 'out') : a));
    const result = await runCli(['process', '--input', input, '--quiet', ...args]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      `ticket-pipeline: cannot create the folder ${folder}: its file system does not take new folders there (ENOENT): use a folder on an ordinary file system`,
    ]);
  });
});

describe('--max-records', () => {
  it('refuses 0 instead of treating it as no limit', async () => {
    const result = await runCli(['process', '--input', input, '--out', join(dir, 'o'), '--max-records', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'ticket-pipeline: --max-records must be a whole number of at least 1, got "0"\n',
    );
  });
});
