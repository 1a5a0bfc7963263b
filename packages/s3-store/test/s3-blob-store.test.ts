import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { TicketflowError } from '@ticketflow/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseS3Url, type S3RetryEvent, s3BlobStore } from '../src/index';
import { type MotoServer, startMoto } from './support/moto';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

let moto: MotoServer;
/** A second server that checks credentials, for the tests of refused credentials. */
let authMoto: MotoServer;
let proxy: TcpProxy;
const BUCKET = 'store-tests';

beforeAll(async () => {
  [moto, authMoto] = await Promise.all([
    startMoto({ buckets: [BUCKET] }),
    startMoto({ buckets: [BUCKET], auth: true }),
  ]);
  proxy = await startTcpProxy(moto.port);
  // The stores built below find their credentials and region through the SDK's default chain.
  Object.assign(process.env, moto.env());
});
afterAll(async () => {
  await proxy?.close();
  await moto?.stop();
  await authMoto?.stop();
});

/** A store through the proxy, with short waits so that retry tests stay quick. */
function proxiedStore(
  prefix: string,
  events: S3RetryEvent[] = [],
  extra: { requestTimeoutMs?: number } = {},
) {
  return s3BlobStore({
    bucket: BUCKET,
    prefix,
    endpoint: proxy.endpoint,
    retry: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 12 },
    onRetry: (event) => events.push(event),
    ...extra,
  });
}

async function rejection(promise: Promise<unknown>): Promise<TicketflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TicketflowError);
  return error as TicketflowError;
}

describe('parseS3Url', () => {
  it('splits a URL into the bucket and a prefix ending with a slash', () => {
    expect(parseS3Url('s3://analytics/tickets')).toEqual({ bucket: 'analytics', prefix: 'tickets/' });
    expect(parseS3Url('s3://analytics/a/b/')).toEqual({ bucket: 'analytics', prefix: 'a/b/' });
    expect(parseS3Url('s3://analytics')).toEqual({ bucket: 'analytics', prefix: '' });
    expect(parseS3Url('s3://analytics/')).toEqual({ bucket: 'analytics', prefix: '' });
  });

  it('refuses what is not an s3 URL or not a bucket name, naming the setting', () => {
    expect(() => parseS3Url('https://analytics/x', '--out')).toThrow(/^--out must look like s3:\/\/bucket/);
    expect(() => parseS3Url('s3://', '--out')).toThrow(/not a valid S3 bucket name/);
    expect(() => parseS3Url('s3://Upper_Case/x')).toThrow(/not a valid S3 bucket name/);
  });
});

describe('s3BlobStore', () => {
  it('puts, gets, lists in order and deletes objects under its prefix over real HTTP', async () => {
    const store = s3BlobStore({ bucket: BUCKET, prefix: 'basic' });
    await store.put('b/2.json', '{"n":2}');
    await store.put('a.json', new Uint8Array(Buffer.from('{"n":1}')));
    await store.put('b/10.json', '{"n":10}');
    await s3BlobStore({ bucket: BUCKET, prefix: 'basic-outside' }).put('x.json', 'x');

    expect(Buffer.from((await store.get('b/2.json')) ?? []).toString()).toBe('{"n":2}');
    expect(await store.get('missing.json')).toBeUndefined();
    expect(await store.list('')).toEqual(['a.json', 'b/10.json', 'b/2.json']);
    expect(await store.list('b/')).toEqual(['b/10.json', 'b/2.json']);
    expect(await moto.listKeys(BUCKET, 'basic/')).toEqual([
      'basic/a.json',
      'basic/b/10.json',
      'basic/b/2.json',
    ]);

    await store.delete('a.json');
    await store.delete('never-there.json');
    expect(await store.list('')).toEqual(['b/10.json', 'b/2.json']);
    expect(store.describe('b/2.json')).toBe(`s3://${BUCKET}/basic/b/2.json`);
    await store.close();
  });

  it('lists every page when a listing spans several ListObjectsV2 pages', async () => {
    const store = s3BlobStore({ bucket: BUCKET, prefix: 'paged', listPageSize: 2 });
    const keys = ['a', 'b', 'c', 'd', 'e'].map((k) => `${k}.json`);
    for (const key of [...keys].reverse()) await store.put(key, key);
    expect(await store.list('')).toEqual(keys);
  });

  it('stores the exact bytes with a content type from the extension, and a rewrite leaves the same object', async () => {
    const store = s3BlobStore({ bucket: BUCKET, prefix: 'types' });
    const gz = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]);
    await store.put('x.json.gz', gz);
    await store.put('x.json', '{"a":1}\n');
    const admin = moto.client();
    const head = (key: string) => admin.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `types/${key}` }));
    const first = await head('x.json.gz');
    expect(first.ContentType).toBe('application/gzip');
    expect(first.ContentEncoding).toBeUndefined();
    expect((await head('x.json')).ContentType).toBe('application/json');
    await store.put('x.json.gz', gz);
    expect((await head('x.json.gz')).ETag).toBe(first.ETag);
    expect(await moto.getObject(BUCKET, 'types/x.json.gz')).toEqual(Buffer.from(gz));
    admin.destroy();
  });

  it('creates an object with putIfAbsent only where the key is free, stored as put stores it', async () => {
    const store = s3BlobStore({ bucket: BUCKET, prefix: 'create' });
    expect(await store.putIfAbsent('a.json', '{"n":1}')).toBe(true);
    expect(await store.putIfAbsent('a.json', '{"n":2}')).toBe(false);
    expect(await moto.getObject(BUCKET, 'create/a.json')).toEqual(Buffer.from('{"n":1}'));
    const gz = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 4, 5, 6]);
    expect(await store.putIfAbsent('b.json.gz', gz)).toBe(true);
    await store.put('c.json.gz', gz);
    const admin = moto.client();
    const head = (key: string) => admin.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `create/${key}` }));
    const [created, put] = [await head('b.json.gz'), await head('c.json.gz')];
    expect(created.ContentType).toBe('application/gzip');
    expect(created.ContentType).toBe(put.ContentType);
    expect(created.ContentLength).toBe(gz.byteLength);
    expect(created.ETag).toBe(put.ETag);
    expect(await moto.getObject(BUCKET, 'create/b.json.gz')).toEqual(Buffer.from(gz));
    admin.destroy();
    await store.close();
  });

  it('takes its endpoint from AWS_ENDPOINT_URL_S3 before AWS_ENDPOINT_URL', async () => {
    const store = s3BlobStore({
      bucket: BUCKET,
      prefix: 'env',
      env: { AWS_ENDPOINT_URL_S3: moto.endpoint, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' },
      retry: { maxAttempts: 1 },
    });
    await store.put('k.json', '{}');
    expect(await moto.listKeys(BUCKET, 'env/')).toEqual(['env/k.json']);
  });

  it('survives the server being down for 3 s mid-put: it retries and resolves only once S3 has the object', async () => {
    const events: S3RetryEvent[] = [];
    const store = proxiedStore('down', events);
    await store.put('before.json', '1');
    await proxy.setMode('refuse');
    let settled = false;
    const put = store.put('during.json', '{"during":true}').finally(() => {
      settled = true;
    });
    await sleep(3000);
    expect(settled).toBe(false);
    expect(await moto.getObject(BUCKET, 'down/during.json')).toBeUndefined();
    await proxy.setMode('forward');
    await put;
    expect(Buffer.from((await moto.getObject(BUCKET, 'down/during.json')) ?? []).toString()).toBe(
      '{"during":true}',
    );
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(
      events.every((e) => e.operation === 'put' && e.location === `s3://${BUCKET}/down/during.json`),
    ).toBe(true);
    expect(events.map((e) => e.reason)).toContain('ECONNREFUSED');
    expect(events.map((e) => e.delayMs).slice(0, 3)).toEqual([100, 200, 400]);
  });

  it.each([
    ['reset connections', 'reset', 'ECONNRESET', {}],
    ['503 SlowDown answers', 'throttle', 'SlowDown', {}],
    ['requests that never get an answer', 'hang', 'ETIMEDOUT', { requestTimeoutMs: 400 }],
  ] as const)('retries %s until the server is back', async (_, mode, reason, extra) => {
    const events: S3RetryEvent[] = [];
    const store = proxiedStore(`modes/${mode}`, events, extra);
    const before = proxy.turnedAway;
    await proxy.setMode(mode);
    const put = store.put('k.json', mode);
    while (proxy.turnedAway < before + 2) await sleep(50);
    await proxy.setMode('forward');
    await put;
    expect(Buffer.from((await store.get('k.json')) ?? []).toString()).toBe(mode);
    expect(events.map((e) => e.reason)).toContain(reason);
    await store.close();
  });

  it('gives up after maxAttempts with a one-line, retriable SINK_FAILED error', async () => {
    const events: S3RetryEvent[] = [];
    const store = s3BlobStore({
      bucket: BUCKET,
      endpoint: proxy.endpoint,
      retry: { maxAttempts: 3, baseDelayMs: 10 },
      onRetry: (e) => events.push(e),
    });
    await proxy.setMode('refuse');
    try {
      const error = await rejection(store.put('never.json', 'x'));
      expect(error.code).toBe('SINK_FAILED');
      expect(error.retriable).toBe(true);
      expect(error.message).toBe(
        `cannot put s3://${BUCKET}/never.json: S3 still failing after 3 attempts (ECONNREFUSED)`,
      );
      expect(events).toHaveLength(2);
    } finally {
      await proxy.setMode('forward');
    }
  });

  it('fails at once on an unknown access key, with a one-line AUTHENTICATION_FAILED error', async () => {
    const events: S3RetryEvent[] = [];
    const secret = 'wrongSecretKey/abcdefghijklmnopqrstuvwxyz12';
    const store = s3BlobStore({
      bucket: BUCKET,
      client: authMoto.client({
        credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: secret },
      }),
      onRetry: (e) => events.push(e),
    });
    for (const operation of [() => store.check(), () => store.put('k.json', 'x'), () => store.list('')]) {
      const error = await rejection(operation());
      expect(error.code).toBe('AUTHENTICATION_FAILED');
      expect(error.retriable).toBe(false);
      expect(error.message).toMatch(
        /^S3 refused the credentials for bucket "store-tests" \(InvalidAccessKeyId\)/,
      );
      expect(error.message).not.toContain('\n');
      expect(error.message).not.toContain(secret);
    }
    expect(events).toEqual([]);
  });

  it('fails at once on a wrong secret for a known key (SignatureDoesNotMatch), never printing the secret', async () => {
    const secret = 'notTheRightSecret/0123456789abcdefghijklmn';
    const { accessKeyId } = authMoto.credentials;
    const store = s3BlobStore({
      bucket: BUCKET,
      client: authMoto.client({ credentials: { accessKeyId, secretAccessKey: secret } }),
    });
    const error = await rejection(store.put('k.json', 'x'));
    expect(error.code).toBe('AUTHENTICATION_FAILED');
    expect(error.message).toContain('(SignatureDoesNotMatch)');
    expect(error.message).not.toContain(secret);
    expect(await authMoto.getObject(BUCKET, 'k.json')).toBeUndefined();
    // The same request with the right secret goes through: the secret is what was refused.
    await s3BlobStore({ bucket: BUCKET, client: authMoto.client() }).put('k.json', 'x');
    expect(await authMoto.getObject(BUCKET, 'k.json')).toEqual(Buffer.from('x'));
  });

  it('reports a missing bucket as STORAGE_NOT_FOUND on check, put, get and list', async () => {
    const events: S3RetryEvent[] = [];
    const store = s3BlobStore({ bucket: 'no-such-bucket', prefix: 'p', onRetry: (e) => events.push(e) });
    for (const operation of [
      () => store.check(),
      () => store.put('k.json', 'x'),
      () => store.get('k.json'),
      () => store.list(''),
    ]) {
      const error = await rejection(operation());
      expect(error.code).toBe('STORAGE_NOT_FOUND');
      expect(error.message).toBe('S3 bucket "no-such-bucket" does not exist');
    }
    expect(events).toEqual([]);
  });

  it('passes check() for an existing bucket, even an empty prefix', async () => {
    await expect(s3BlobStore({ bucket: BUCKET, prefix: 'nothing-here' }).check()).resolves.toBeUndefined();
  });

  it('refuses bad options with one-line InvalidOptionErrors', () => {
    expect(() => s3BlobStore({ bucket: 'x' })).toThrow(/not a valid S3 bucket name/);
    expect(() => s3BlobStore({ bucket: BUCKET, endpoint: 'localhost:9000' })).toThrow(
      /endpoint must be an http:\/\/ or https:\/\/ URL/,
    );
    expect(() => s3BlobStore({ bucket: BUCKET, retry: { maxAttempts: 0 } })).toThrow(/maxAttempts/);
  });
});
