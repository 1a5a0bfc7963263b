import { link, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { BlobStore } from './blob-store';
import { TicketflowError } from './errors';
import { fileSystemError } from './storage-error';

let temporarySequence = 0;

/** The temporary files `put` writes beside their target: `<name>.<pid>.<sequence>.tmp`. */
const TEMPORARY = /\.\d+\.\d+\.tmp$/;

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `body` to a new temporary file beside `target` and fsyncs it; removes it again when that
 * fails (a full disk must not leave an empty file behind). Resolves with its path.
 */
async function writeTemporary(target: string, body: Uint8Array | string): Promise<string> {
  temporarySequence += 1;
  const temporary = `${target}.${process.pid}.${temporarySequence}.tmp`;
  try {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => {});
    throw error;
  }
  return temporary;
}

/**
 * A {@link BlobStore} on a local folder. `put` is atomic and durable: it writes a temporary file beside
 * the target (`<name>.<pid>.<n>.tmp`), fsyncs it, renames it over the target and fsyncs the folder, so a
 * crash leaves either the old file or the complete new one, never a partial one; a failed write removes
 * its temporary file, and {@link BlobStore.removeLeftovers} removes those of a killed process.
 * `putIfAbsent` links the synced temporary file to the target (`link(2)` refuses an existing name), so
 * of two racing writers one wins. File-system errors become one-line {@link TicketflowError}s naming
 * the path and the way out (see {@link fileSystemError}).
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
  const describe = (key: string) => join(root, key);
  return {
    async put(key, body) {
      const target = pathOf(key);
      const folder = dirname(target);
      try {
        await mkdir(folder, { recursive: true });
        const temporary = await writeTemporary(target, body);
        try {
          await rename(temporary, target);
        } catch (error) {
          await rm(temporary, { force: true }).catch(() => {});
          throw error;
        }
        await syncDirectory(folder);
      } catch (error) {
        throw fileSystemError(error, 'write', describe(key), dirname(describe(key)));
      }
    },
    async putIfAbsent(key, body) {
      const target = pathOf(key);
      const folder = dirname(target);
      try {
        await mkdir(folder, { recursive: true });
        const temporary = await writeTemporary(target, body);
        try {
          await link(temporary, target);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
          throw error;
        } finally {
          await rm(temporary, { force: true }).catch(() => {});
        }
        await syncDirectory(folder);
        return true;
      } catch (error) {
        throw fileSystemError(error, 'write', describe(key), dirname(describe(key)));
      }
    },
    async get(key) {
      try {
        return await readFile(pathOf(key));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw fileSystemError(error, 'read', describe(key), dirname(describe(key)));
      }
    },
    async list(prefix) {
      const folderKey = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
      const start = pathOf(folderKey);
      let entries: string[];
      try {
        entries = (await readdir(start, { recursive: true, withFileTypes: true }))
          .filter((entry) => entry.isFile() && !entry.name.endsWith('.tmp'))
          .map((entry) => relative(base, join(entry.parentPath, entry.name)).split(sep).join('/'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw fileSystemError(error, 'list', describe(folderKey));
      }
      return entries.filter((key) => key.startsWith(prefix)).sort();
    },
    async delete(key) {
      try {
        await rm(pathOf(key), { force: true });
      } catch (error) {
        throw fileSystemError(error, 'delete', describe(key), dirname(describe(key)));
      }
    },
    async removeLeftovers() {
      let found: string[];
      try {
        found = (await readdir(base, { recursive: true, withFileTypes: true }))
          .filter((entry) => entry.isFile() && TEMPORARY.test(entry.name))
          .map((entry) => join(entry.parentPath, entry.name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw fileSystemError(error, 'list', root);
      }
      const removed: string[] = [];
      for (const path of found) {
        try {
          await rm(path, { force: true });
        } catch (error) {
          throw fileSystemError(error, 'delete', path, dirname(path));
        }
        removed.push(describe(relative(base, path)));
      }
      return removed;
    },
    describe,
  };
}
