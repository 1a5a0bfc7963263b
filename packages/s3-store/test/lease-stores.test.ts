import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLease, type BlobStore, type Lease, localBlobStore, TicketflowError } from '@ticketflow/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3BlobStore } from '../src/index';
import { type MotoServer, startMoto } from './support/moto';

const BUCKET = 'lease-tests';
let moto: MotoServer;
let dir: string;
let sequence = 0;

beforeAll(async () => {
  moto = await startMoto({ buckets: [BUCKET] });
  // The S3 stores find their credentials and region through the SDK's default chain.
  Object.assign(process.env, moto.env());
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-lease-stores-'));
});
afterAll(async () => {
  await moto?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh location on each kind of store: a local folder, and an S3 prefix on moto over HTTP. */
const STORES: Array<[string, () => BlobStore]> = [
  ['a local folder', () => localBlobStore(join(dir, `out-${++sequence}`))],
  [
    'S3 (moto over HTTP)',
    () =>
      s3BlobStore({
        bucket: BUCKET,
        prefix: `out-${++sequence}`,
        endpoint: moto.endpoint,
        region: 'us-east-1',
        env: moto.env(),
      }),
  ],
];

const TTL = 10_000;

/** A settable clock shared by the "processes" of a test. */
function clock(start = Date.now()) {
  let t = start;
  return { now: () => t, set: (ms: number) => (t = start + ms) };
}

function take(store: BlobStore, c: { now: () => number }, pid: number): Promise<Lease> {
  return acquireLease(store, { ttl: TTL, now: c.now, holder: { host: 'test-host', pid } });
}

async function conflict(promise: Promise<unknown>): Promise<TicketflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TicketflowError);
  expect((error as TicketflowError).code).toBe('CHECKPOINT_CONFLICT');
  expect((error as TicketflowError).retriable).toBe(false);
  return error as TicketflowError;
}

describe.each(STORES)('output lease on %s', (_, makeStore) => {
  it('lets exactly one of eight processes racing for a free location take it', async () => {
    const store = makeStore();
    const c = clock();
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => take(store, c, 100 + i)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as TicketflowError).code).toBe('CHECKPOINT_CONFLICT');
    await (won[0] as PromiseFulfilledResult<Lease>).value.release();
  });

  it('refuses a second owner until the lease expires, then lets it take over; the first one is fenced', async () => {
    const store = makeStore();
    const c = clock();
    const first = await take(store, c, 1);
    c.set(TTL - 1000);
    const refused = await conflict(take(store, c, 2));
    expect(refused.message).toMatch(
      /is in use by another processor \(host test-host, pid 1\), whose lease \(.*lease\/\) expires at \S+Z \(in 1 s\) unless renewed: stop that processor, or use another output; if it was killed, start again once the lease has expired$/,
    );
    await first.assertHeld(); // renews: half of its time had passed
    c.set(TTL + TTL - 2000);
    await conflict(take(store, c, 2));

    c.set(3 * TTL);
    const second = await take(store, c, 2);
    expect(second.tookOver).toMatchObject({ host: 'test-host', pid: 1 });
    const lost = await conflict(first.assertHeld());
    expect(lost.message).toMatch(/^lost the lease on .* to another processor \(host test-host, pid 2\)/);
    await conflict(first.assertHeld());
    await second.assertHeld();
    await second.release();
  });

  it('fences an owner whose lease was taken over even while its own clock says it is still valid', async () => {
    const store = makeStore();
    const mine = clock();
    const theirs = clock();
    const first = await take(store, mine, 1);
    theirs.set(TTL + 1); // a host whose clock runs ahead
    const second = await take(store, theirs, 2);
    expect(second.tookOver).toBeDefined();
    await conflict(first.assertHeld());
    await second.release();
  });

  it('lets exactly one of a renewal and seven takeovers of an expired lease win', async () => {
    const store = makeStore();
    const c = clock();
    const first = await take(store, c, 1);
    c.set(TTL + 1);
    const results = await Promise.allSettled([
      first.assertHeld(),
      ...Array.from({ length: 7 }, (_, i) => take(store, c, 10 + i)),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as TicketflowError).code).toBe('CHECKPOINT_CONFLICT');
    for (const r of results.slice(1)) if (r.status === 'fulfilled') await (r.value as Lease).release();
    if (results[0]?.status === 'fulfilled') await first.release();
  });

  it('takes over at once a lease whose holder process is gone on this host and PID namespace', async () => {
    const store = makeStore();
    const c = clock();
    const namespace = 'pid:[4026531836]';
    const here = (pid: number) =>
      acquireLease(store, {
        ttl: TTL,
        now: c.now,
        holder: { host: 'this-host', pid, pidNamespace: namespace },
      });
    // A pid that no process has: far above pid_max.
    const dead = await here(2 ** 30);
    await conflict(
      acquireLease(store, {
        ttl: TTL,
        now: c.now,
        holder: { host: 'this-host', pid: 5, pidNamespace: 'pid:[1]' },
      }),
    );
    const next = await here(process.pid);
    expect(next.tookOver).toMatchObject({ pid: 2 ** 30 });
    await conflict(dead.assertHeld());
    // A live holder is never taken over before its expiry.
    await conflict(here(1));
    await next.release();
  });

  it('is free at once after a release, without a takeover', async () => {
    const store = makeStore();
    const c = clock();
    const first = await take(store, c, 1);
    await first.release();
    await conflict(first.assertHeld());
    const second = await take(store, c, 2);
    expect(second.tookOver).toBeUndefined();
    await second.release();
    expect((await store.list('_checkpoint/lease/')).length).toBe(1);
  });
});
