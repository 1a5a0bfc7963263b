/**
 * A flat key-value store of immutable objects: a local folder or an S3 prefix. The sinks and the
 * checkpoint write through it, so that both targets get the same guarantees.
 */
export interface BlobStore {
  /** Writes `body` under `key`; resolves once it is durable. A reader sees the old object or the whole new one. */
  put(key: string, body: Uint8Array | string): Promise<void>;
  /** Reads an object, or `undefined` when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Lists the keys that start with `prefix`, in ascending order. */
  list(prefix: string): Promise<string[]>;
  /** Removes an object; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  /** Where `key` lives, for logs: a path or an `s3://` URL. */
  describe(key: string): string;
}
