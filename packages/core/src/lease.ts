import { randomUUID } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { BlobStore } from './blob-store';
import { type Duration, toMilliseconds } from './duration';
import { InvalidOptionError, TicketflowError, toTicketflowError } from './errors';

/** Who holds a lease. */
export interface LeaseHolder {
  /** The holder's host name (`os.hostname()`). */
  readonly host: string;
  /** The holder's process id. */
  readonly pid: number;
  /**
   * The holder's PID namespace (Linux: `readlink /proc/self/ns/pid`, such as `pid:[4026531836]`), so
   * that a process on the same host and in the same namespace can tell its pid is gone. Absent
   * elsewhere.
   */
  readonly pidNamespace?: string;
}

/** One lease record, as stored (JSON) under `<prefix><sequence, 12 digits>.json`. */
export interface LeaseRecord extends LeaseHolder {
  /** Random id of the holding process's lease, the same over its renewals. */
  readonly token: string;
  /** The record's sequence number; each transition (take, renew, release) writes the next one. */
  readonly sequence: number;
  /** When the holder took the lease, ISO-8601 UTC. */
  readonly acquiredAt: string;
  /** When this record was written, ISO-8601 UTC (holder's clock). */
  readonly renewedAt: string;
  /** When the lease ends unless renewed, ISO-8601 UTC (holder's clock). */
  readonly expiresAt: string;
  /** True once the holder gave the lease up: anyone may take it at once. */
  readonly released?: boolean;
}

/** This process's PID namespace, or `undefined` where there is no `/proc`. */
function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

/** Whether a process of this PID namespace is alive (`kill(pid, 0)`; EPERM means it is). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Options of {@link acquireLease}. */
export interface LeaseOptions {
  /** Key prefix of the lease records inside the store. Default `'_checkpoint/lease/'`. */
  readonly prefix?: string;
  /**
   * How long the lease lasts without renewal. The holder renews it every third of this; another process
   * may take it over only once it has expired, so after a crash a restart waits up to this long.
   * Default `'30s'`.
   */
  readonly ttl?: Duration;
  /** What the lease protects, for messages. Default: `store.describe('')`. */
  readonly resource?: string;
  /** Called when a background renewal fails for a passing reason (the lease is kept), for logs. */
  readonly onRenewFailed?: (error: TicketflowError) => void;
  /** Called once when the lease is found lost (another process took it over), for logs. */
  readonly onLost?: (error: TicketflowError) => void;
  /** The clock, in ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
  /** Who this process is. Default: `os.hostname()`, `process.pid` and its PID namespace. */
  readonly holder?: LeaseHolder;
}

/** A lease held on a location: see {@link acquireLease}. */
export interface Lease {
  /** Where the lease records live, for logs (`<folder>/_checkpoint/lease/` or an `s3://` URL). */
  readonly location: string;
  /** This process. */
  readonly holder: LeaseHolder;
  /** The expired lease this one took over, when the previous holder had neither released it nor renewed it. */
  readonly tookOver: LeaseRecord | undefined;
  /** When the lease ends unless renewed, in ms since the epoch. */
  readonly expiresAt: number;
  /**
   * The fence: resolves when this process still holds the lease, so that it may write one more step of
   * a batch. Renews the lease first when less than half of its time is left, else checks that nobody
   * wrote a later record. Rejects with a not retriable `CHECKPOINT_CONFLICT` once the lease is lost
   * (taken over, or released), and with a retriable error when the store cannot be reached.
   */
  assertHeld(): Promise<void>;
  /** Stops renewing and gives the lease up (writes a released record), so that a successor starts at once. */
  release(): Promise<void>;
}

const RECORD = /^(\d{1,15})\.json$/;

function keyOf(prefix: string, sequence: number): string {
  return `${prefix}${String(sequence).padStart(12, '0')}.json`;
}

function parseRecord(bytes: Uint8Array, where: string): LeaseRecord {
  try {
    const record = JSON.parse(Buffer.from(bytes).toString('utf8')) as LeaseRecord;
    if (
      typeof record.token !== 'string' ||
      typeof record.host !== 'string' ||
      typeof record.pid !== 'number' ||
      Number.isNaN(Date.parse(record.expiresAt))
    ) {
      throw new Error('fields missing');
    }
    return record;
  } catch (error) {
    throw new TicketflowError(
      'CHECKPOINT_FAILED',
      `lease record ${where} is unreadable: with no processor running on this output, delete it`,
      { cause: error },
    );
  }
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.ceil(ms / 1000))} s`;
}

/**
 * Takes the lease on a location (an output folder or S3 prefix) so that one process at a time writes
 * there, and keeps it renewed; resolves with the {@link Lease}. Rejects with a one-line, not retriable
 * `CHECKPOINT_CONFLICT` naming the location, the holder (host, pid) and when its lease expires, when
 * another process holds an unexpired lease; with `INVALID_OPTION` when the store lacks `putIfAbsent`.
 *
 * A lease whose holder ran on this host, in this PID namespace, and whose process is gone (killed) is
 * taken over at once, without waiting for its expiry: `kill(pid, 0)` is authoritative there (a reused
 * pid only makes the taker wait for the expiry). Elsewhere the expiry decides.
 *
 * Protocol: the lease is a log of immutable records `<prefix>000000000042.json`; the one with the
 * highest sequence number says who holds the lease until when. Every transition — taking a free or
 * expired lease, renewing it, releasing it — writes the next sequence number with
 * {@link BlobStore.putIfAbsent} (an atomic create: `link(2)` locally, `PutObject` with
 * `If-None-Match: *` on S3), so of two processes racing from the same record exactly one succeeds: a
 * renewal and a takeover of the same expired record cannot both win, and two processes taking over an
 * expired lease cannot both win. A holder that finds a later record it did not write has lost the lease.
 *
 * Fencing: the pipeline calls {@link Lease.assertHeld} before every attempt of every durable step of a
 * batch, so a process that lost its lease stops before it commits another batch. The holder renews
 * every `ttl / 3`, and renews inside `assertHeld` when less than `ttl / 2` is left, so a successor can
 * start (after expiry) no sooner than `ttl / 2` after the last check passed. What is left unguarded is a
 * holder paused longer than that between a check and its write (a frozen VM, SIGSTOP): the store itself
 * cannot refuse a stale writer's batch file. Expiry is judged with the taker's clock against the
 * holder's: hosts' clocks must agree to well within the ttl (NTP).
 *
 * @example
 * ```ts
 * const lease = await acquireLease(localBlobStore('./ticket_metrics_json'), { ttl: '30s' });
 * try { await createPipeline({ ...options, lease }).run(); } finally { await lease.release(); }
 * ```
 */
export async function acquireLease(store: BlobStore, options: LeaseOptions = {}): Promise<Lease> {
  const putIfAbsent = store.putIfAbsent?.bind(store);
  if (putIfAbsent === undefined)
    throw new InvalidOptionError(
      `the store of ${store.describe('')} cannot be leased: it has no putIfAbsent`,
    );
  const prefix = options.prefix ?? '_checkpoint/lease/';
  const ttlMs = toMilliseconds(options.ttl ?? '30s', 'lease ttl');
  const now = options.now ?? Date.now;
  const namespace = pidNamespace();
  const holder: LeaseHolder = options.holder ?? {
    host: hostname(),
    pid: process.pid,
    ...(namespace !== undefined ? { pidNamespace: namespace } : {}),
  };
  /** A holder on this host, in this PID namespace, whose process is gone (killed): no need to wait. */
  const gone = (record: LeaseRecord) =>
    record.pidNamespace !== undefined &&
    record.host === holder.host &&
    record.pidNamespace === holder.pidNamespace &&
    record.pid !== holder.pid &&
    !alive(record.pid);
  const resource = options.resource ?? store.describe('');
  const location = store.describe(prefix);
  const token = randomUUID();

  /** The lease's latest record, or `undefined` when there is none. */
  const readLatest = async (): Promise<LeaseRecord | undefined> => {
    for (let tries = 0; ; tries++) {
      const keys = await store.list(prefix);
      const sequences = keys
        .map((key) => RECORD.exec(key.slice(prefix.length)))
        .filter((m) => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      const last = sequences.at(-1);
      if (last === undefined) return undefined;
      const bytes = await store.get(keyOf(prefix, last));
      // Deleted between the listing and the read: a newer record exists, list again.
      if (bytes === undefined && tries < 5) continue;
      if (bytes === undefined) return undefined;
      return { ...parseRecord(bytes, store.describe(keyOf(prefix, last))), sequence: last };
    }
  };
  const readAt = async (sequence: number): Promise<LeaseRecord | undefined> => {
    const bytes = await store.get(keyOf(prefix, sequence));
    return bytes === undefined
      ? undefined
      : { ...parseRecord(bytes, store.describe(keyOf(prefix, sequence))), sequence };
  };
  const heldError = (record: LeaseRecord, lost: boolean) => {
    const expires = Date.parse(record.expiresAt);
    const who = `host ${record.host}, pid ${record.pid}`;
    return new TicketflowError(
      'CHECKPOINT_CONFLICT',
      lost
        ? `lost the lease on ${resource} to another processor (${who}): stopping before committing another batch; two processors must not write one output`
        : `${resource} is in use by another processor (${who}), whose lease (${location}) expires at ${record.expiresAt} (in ${seconds(expires - now())}) unless renewed: stop that processor, or use another output; if it was killed, start again once the lease has expired`,
    );
  };
  /** Writes record `sequence`; true when this process wrote it (also when a retried write had already landed). */
  const write = async (sequence: number, record: LeaseRecord): Promise<boolean> => {
    const key = keyOf(prefix, sequence);
    if (await putIfAbsent(key, `${JSON.stringify(record)}\n`)) return true;
    const there = await readAt(sequence);
    return there !== undefined && there.token === token && there.renewedAt === record.renewedAt;
  };
  const recordAt = (sequence: number, acquiredAt: string, released = false): LeaseRecord => {
    const t = now();
    return {
      token,
      host: holder.host,
      pid: holder.pid,
      ...(holder.pidNamespace !== undefined ? { pidNamespace: holder.pidNamespace } : {}),
      sequence,
      acquiredAt,
      renewedAt: new Date(t).toISOString(),
      expiresAt: new Date(released ? t : t + ttlMs).toISOString(),
      ...(released ? { released: true } : {}),
    };
  };

  // Take the lease.
  let current: LeaseRecord | undefined;
  let tookOver: LeaseRecord | undefined;
  for (let tries = 0; current === undefined; tries++) {
    const latest = await readLatest();
    if (latest !== undefined && !latest.released && Date.parse(latest.expiresAt) > now() && !gone(latest)) {
      throw heldError(latest, false);
    }
    if (tries >= 3 && latest !== undefined) throw heldError(latest, false);
    const sequence = (latest?.sequence ?? -1) + 1;
    const record = recordAt(sequence, new Date(now()).toISOString());
    if (await write(sequence, record)) {
      current = record;
      tookOver = latest !== undefined && !latest.released ? latest : undefined;
    }
  }
  const acquiredAt = current.acquiredAt;
  // Older records are history: keep the store small.
  for (const key of await store.list(prefix)) {
    const match = RECORD.exec(key.slice(prefix.length));
    if (match && Number(match[1]) < current.sequence) await store.delete(key).catch(() => {});
  }

  let lost: TicketflowError | undefined;
  let released = false;
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(run: () => Promise<T>): Promise<T> => {
    const next = queue.then(run, run);
    queue = next.catch(() => {});
    return next;
  };
  const loseTo = (record: LeaseRecord | undefined): never => {
    lost ??= record
      ? heldError(record, true)
      : new TicketflowError('CHECKPOINT_CONFLICT', `lost the lease on ${resource}: its record vanished`);
    options.onLost?.(lost);
    throw lost;
  };
  const storageError = (error: unknown, doing: string) => {
    const wrapped = toTicketflowError(error, 'CHECKPOINT_FAILED', `cannot ${doing} the lease ${location}`);
    return wrapped.code === 'CHECKPOINT_CONFLICT'
      ? wrapped
      : new TicketflowError(wrapped.code, wrapped.message, { cause: error, retriable: true });
  };
  /** Writes the next record; throws CHECKPOINT_CONFLICT when another process wrote it first. */
  const advance = async (release: boolean): Promise<void> => {
    if (lost) throw lost;
    const held = current as LeaseRecord;
    const sequence = held.sequence + 1;
    const record = recordAt(sequence, acquiredAt, release);
    let written: boolean;
    try {
      written = await write(sequence, record);
    } catch (error) {
      throw storageError(error, release ? 'release' : 'renew');
    }
    if (!written) loseTo(await readAt(sequence).catch(() => undefined));
    current = record;
    await store.delete(keyOf(prefix, held.sequence)).catch(() => {});
  };
  const check = async (): Promise<void> => {
    if (lost) throw lost;
    if (released) throw new TicketflowError('CHECKPOINT_CONFLICT', `the lease on ${resource} was released`);
    const held = current as LeaseRecord;
    if (Date.parse(held.expiresAt) - now() < ttlMs / 2) {
      await advance(false);
      return;
    }
    let later: LeaseRecord | undefined;
    try {
      later = await readAt(held.sequence + 1);
    } catch (error) {
      throw storageError(error, 'check');
    }
    if (later !== undefined) loseTo(later);
  };

  const timer = setInterval(() => {
    serially(() => (released || lost ? Promise.resolve() : advance(false))).catch((error: unknown) => {
      const failure = toTicketflowError(error, 'CHECKPOINT_FAILED', `cannot renew the lease ${location}`);
      if (failure.code !== 'CHECKPOINT_CONFLICT') options.onRenewFailed?.(failure);
    });
  }, ttlMs / 3);
  timer.unref();

  return {
    location,
    holder,
    tookOver,
    get expiresAt() {
      return Date.parse((current as LeaseRecord).expiresAt);
    },
    assertHeld: () => serially(check),
    release: () =>
      serially(async () => {
        clearInterval(timer);
        if (released || lost) return;
        released = true;
        await advance(true);
      }),
  };
}
