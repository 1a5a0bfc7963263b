import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobCheckpointStore, localBlobStore, TicketflowError } from '../src/index';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-storage-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<TicketflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TicketflowError);
  return error as TicketflowError;
}

/**
 * A real, tiny file system: a 64 KiB tmpfs (the tests run as root, which may mount one). Its files are
 * removed and it is unmounted afterwards.
 */
async function withTinyFileSystem(run: (mount: string) => Promise<void>): Promise<void> {
  const mount = await mkdtemp(join(dir, 'tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount]);
  try {
    await run(mount);
  } finally {
    execFileSync('umount', ['-l', mount]);
  }
}

describe('local storage errors name the path and the way out', () => {
  it('ENOSPC: names the file and says to free space, and leaves no temporary file behind', async () => {
    await withTinyFileSystem(async (mount) => {
      const store = localBlobStore(mount);
      const error = await rejection(store.put('batch_00000.json', Buffer.alloc(200 * 1024, 'x')));
      expect(error.message).toBe(
        `cannot write ${join(mount, 'batch_00000.json')}: no space left on the device (ENOSPC): free space on the file system holding ${mount}`,
      );
      expect(error.code).toBe('SINK_FAILED');
      expect(error.retriable).toBe(true);
      expect(await readdir(mount)).toEqual([]);
    });
  });

  it('EROFS: says to remount the file system read-write', async () => {
    await withTinyFileSystem(async (mount) => {
      execFileSync('mount', ['-o', 'remount,ro', mount]);
      const store = localBlobStore(mount);
      const error = await rejection(store.put('batch_00000.json', '{}'));
      expect(error.message).toBe(
        `cannot write ${join(mount, 'batch_00000.json')}: the file system holding ${mount} is read-only (EROFS): remount it read-write`,
      );
      expect(error.retriable).toBe(true);
    });
  });

  it('a damaged checkpoint entry: names the file and how to redo the batch from the entry before', async () => {
    const root = join(dir, 'corrupt');
    const store = localBlobStore(root);
    const checkpoint = blobCheckpointStore(store);
    for (const batchId of [0, 1, 2]) {
      const plan = { batchId, windowStart: 0, windowEnd: 1, range: {}, positions: { input: batchId } };
      await checkpoint.begin(plan);
      await checkpoint.commit(plan);
    }
    await writeFile(join(root, '_checkpoint/offsets/2.json'), '{"batchId":2,"rang');
    const error = await rejection(checkpoint.load());
    expect(error.code).toBe('CHECKPOINT_FAILED');
    expect(error.message).toBe(
      `checkpoint entry ${join(root, '_checkpoint/offsets/2.json')} is unreadable (not JSON): with no processor running, ` +
        `delete it and the later entries (offsets/N.json and commits/N.json for N >= 2) in ${join(root, '_checkpoint/')} ` +
        'to redo batch 2 onwards from the entry before it (from the start of the input if none is left); ' +
        'safe while the input still holds those records (Kafka retention), as their batch files are then rewritten',
    );
    // The way out works: batch 2 is redone from batch 1's entry.
    await rm(join(root, '_checkpoint/offsets/2.json'));
    await rm(join(root, '_checkpoint/commits/2.json'));
    expect(await checkpoint.load()).toEqual({ nextBatchId: 2, positions: { input: 1 } });
  });

  it('removes the leftovers of interrupted writes (<name>.<pid>.<n>.tmp) and nothing else', async () => {
    const root = join(dir, 'leftovers');
    await mkdir(join(root, '_checkpoint/offsets'), { recursive: true });
    await writeFile(join(root, 'batch_00001.json.99999.4.tmp'), '');
    await writeFile(join(root, '_checkpoint/offsets/2.json.99999.7.tmp'), '');
    await writeFile(join(root, 'notes.tmp'), 'a user file');
    await writeFile(join(root, 'batch_00000.json'), '{}\n');
    const store = localBlobStore(root);
    expect((await store.removeLeftovers?.())?.sort()).toEqual([
      join(root, '_checkpoint/offsets/2.json.99999.7.tmp'),
      join(root, 'batch_00001.json.99999.4.tmp'),
    ]);
    expect((await readdir(root, { recursive: true })).sort()).toEqual([
      '_checkpoint',
      '_checkpoint/offsets',
      'batch_00000.json',
      'notes.tmp',
    ]);
  });
});
