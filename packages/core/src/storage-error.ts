import { describeValue, type ErrorCode, firstLine, TicketflowError } from './errors';

/** What a file-system call was doing, for the message: `cannot <action> <path>`. */
export type FileAction = 'write' | 'read' | 'list' | 'delete';

/**
 * The way out of each file-system error a store meets, by `errno` code: what happened, then what to do.
 * `{folder}` stands for the folder concerned.
 */
const WAYS_OUT: Record<string, string> = {
  ENOSPC: 'no space left on the device (ENOSPC): free space on the file system holding {folder}',
  EDQUOT: 'disk quota exceeded (EDQUOT): free space or raise the quota on {folder}',
  EROFS: 'the file system holding {folder} is read-only (EROFS): remount it read-write',
  EACCES: 'permission denied (EACCES): let the user running the processor write to {folder}',
  EPERM: 'operation not permitted (EPERM): let the user running the processor write to {folder}',
  ENOTDIR: 'a part of the path is a file, not a folder (ENOTDIR): move that file away',
  EISDIR: 'a folder stands where a file should be (EISDIR): move it away',
  EIO: 'input/output error (EIO): check the disk or the network file system holding {folder}',
  EMFILE: 'too many open files (EMFILE): raise the limit (ulimit -n)',
  ENFILE: 'too many open files on the system (ENFILE): raise the limit (fs.file-max)',
  ESTALE: 'stale network file handle (ESTALE): check the network file system holding {folder}',
  EBUSY: 'resource busy (EBUSY)',
  ENOENT: 'no such file or folder (ENOENT)',
};

/**
 * Error codes after which a retry may succeed once the cause is fixed (space freed, file system
 * remounted, permission granted, file moved away) or has passed; the others are flagged not retriable.
 */
const RETRIABLE = new Set([
  'ENOSPC',
  'EDQUOT',
  'EROFS',
  'EACCES',
  'EPERM',
  'ENOTDIR',
  'EIO',
  'EMFILE',
  'ENFILE',
  'ESTALE',
  'EBUSY',
  'EAGAIN',
  'ETIMEDOUT',
  'EINTR',
]);

/**
 * Turns a Node.js file-system error into a one-line {@link TicketflowError} that names the path and the
 * way out, e.g. `cannot write /data/out/batch_00003.json: no space left on the device (ENOSPC): free
 * space on the file system holding /data/out`. `retriable` is true for causes an operator can fix while
 * the processor retries (ENOSPC, EDQUOT, EROFS, EACCES, EPERM, ENOTDIR, EIO, ...). A
 * {@link TicketflowError} is returned unchanged.
 *
 * @param error - what the call threw.
 * @param action - what the store was doing.
 * @param path - the file or folder concerned.
 * @param folder - the folder to name in the way out. Default: `path`.
 * @param code - the error code. Default `'SINK_FAILED'`.
 */
export function fileSystemError(
  error: unknown,
  action: FileAction,
  path: string,
  folder: string = path,
  code: ErrorCode = 'SINK_FAILED',
): TicketflowError {
  if (error instanceof TicketflowError) return error;
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  const known = errno !== undefined ? WAYS_OUT[errno] : undefined;
  const detail = known
    ? known.replaceAll('{folder}', folder)
    : `${errno ?? 'error'}: ${firstLine(describeValue(error instanceof Error ? error.message : error))}`;
  return new TicketflowError(code, `cannot ${action} ${path}: ${detail}`, {
    cause: error,
    retriable: errno !== undefined && RETRIABLE.has(errno),
  });
}
