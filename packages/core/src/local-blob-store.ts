import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { BlobStore } from './blob-store';
import { TicketflowError } from './errors';

let temporarySequence = 0;

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A {@link BlobStore} on a local folder. `put` is atomic and durable: it writes a temporary file beside
 * the target, fsyncs it, renames it over the target and fsyncs the folder, so a crash leaves either the
 * old file or the complete new one, never a partial one.
 *
 * @example
 * ```ts
 * const store = localBlobStore('./ticket_metrics_json');
 * await store.put('batch_00000.json', '{"batch_id":0}');
 * ```
 */
export function localBlobStore(root: string): BlobStore {
  const base = resolve(root);
  const pathOf = (key: string): string => {
    const path = resolve(base, key);
    if (path !== base && !path.startsWith(base + sep)) {
      throw new TicketflowError('INVALID_OPTION', `blob key ${JSON.stringify(key)} leaves ${base}`);
    }
    return path;
  };
  return {
    async put(key, body) {
      const target = pathOf(key);
      const folder = dirname(target);
      await mkdir(folder, { recursive: true });
      temporarySequence += 1;
      const temporary = `${target}.${process.pid}.${temporarySequence}.tmp`;
      const handle = await open(temporary, 'w');
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
      await syncDirectory(folder);
    },
    async get(key) {
      try {
        return await readFile(pathOf(key));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async list(prefix) {
      const start = pathOf(prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '');
      let entries: string[];
      try {
        entries = (await readdir(start, { recursive: true, withFileTypes: true }))
          .filter((entry) => entry.isFile() && !entry.name.endsWith('.tmp'))
          .map((entry) => relative(base, join(entry.parentPath, entry.name)).split(sep).join('/'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
      return entries.filter((key) => key.startsWith(prefix)).sort();
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    describe: (key) => join(root, key),
  };
}
