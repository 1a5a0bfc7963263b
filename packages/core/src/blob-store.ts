/**
 * A flat key-value store of immutable objects: a local folder or an S3 prefix. The sinks and the
 * checkpoint write through it, so that both targets get the same guarantees.
 *
 * Every method rejects with a one-line {@link TicketflowError} that names the object (a path or an
 * `s3://` URL) and, where there is one, the way out (free space, remount read-write, fix permissions).
 */
export interface BlobStore {
  /** Writes `body` under `key`; resolves once it is durable. A reader sees the old object or the whole new one. */
  put(key: string, body: Uint8Array | string): Promise<void>;
  /**
   * Writes `body` under `key` only when no object has that key, atomically: of several writers racing
   * for one key exactly one gets `true`, the others `false`, and a reader never sees a partial object.
   * Resolves `true` once the new object is durable, `false` when the key already held an object (the
   * store left it untouched). Local folders use a hard link of a synced temporary file (`link(2)` fails
   * with `EEXIST`); S3 uses `PutObject` with `If-None-Match: *` (HTTP 412 when the key exists).
   *
   * Optional: an output lease ({@link acquireLease}) needs it; stores without it cannot be leased.
   */
  putIfAbsent?(key: string, body: Uint8Array | string): Promise<boolean>;
  /** Reads an object, or `undefined` when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Lists the keys that start with `prefix`, in ascending order. */
  list(prefix: string): Promise<string[]>;
  /** Removes an object; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Removes the leftovers of this store's own interrupted writes under the store (for a local folder:
   * the `<name>.<pid>.<n>.tmp` files a killed `put` left behind; S3 writes leave none) and resolves with
   * their paths. Call it only while holding the location's lease: another writer's temporary files are
   * in use. Optional: a store without leftovers need not have it.
   */
  removeLeftovers?(): Promise<string[]>;
  /** Where `key` lives, for logs: a path or an `s3://` URL. */
  describe(key: string): string;
}
