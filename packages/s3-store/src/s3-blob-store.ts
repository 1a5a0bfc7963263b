import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { PutObjectCommandInput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { type BlobStore, firstLine, InvalidOptionError, TicketflowError } from '@ticketflow/core';

/**
 * How {@link s3BlobStore} retries a request that failed for a passing reason: the AWS SDK's own retry
 * strategy (`ConfiguredRetryStrategy` of `@smithy/core/retry`, the standard strategy with this backoff),
 * which also keeps a retry quota per client, so that a long outage ends in quick failures rather than a
 * storm of retries: longer outages are for the pipeline's retry policy.
 */
export interface S3RetryOptions {
  /**
   * Attempts per request, the first included. Default: the `AWS_MAX_ATTEMPTS` environment variable,
   * else 8 (about 16 s of waiting with the defaults).
   */
  readonly maxAttempts?: number;
  /** Wait before the second attempt, in ms; it doubles at each attempt. Default 200. */
  readonly baseDelayMs?: number;
  /** The longest wait between two attempts, in ms. Default 5000. */
  readonly maxDelayMs?: number;
}

/** One failed attempt that {@link s3BlobStore} is about to retry, for logs. */
export interface S3RetryEvent {
  /** The store operation: `put`, `create` (`putIfAbsent`), `get`, `list`, `delete` or `check`. */
  readonly operation: S3Operation;
  /** The object or prefix concerned, as an `s3://` URL. */
  readonly location: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** The attempts allowed in all. */
  readonly maxAttempts: number;
  /** How long the store waits before the next attempt, in ms. */
  readonly delayMs: number;
  /** Why the attempt failed, one line: an S3 error code, an HTTP status or a network error code. */
  readonly reason: string;
}

/** An operation of an S3 blob store. */
export type S3Operation = 'put' | 'get' | 'list' | 'delete' | 'check' | 'create';

/** Options of {@link s3BlobStore}. */
export interface S3BlobStoreOptions {
  /** The bucket. It must exist: the store never creates buckets. */
  readonly bucket: string;
  /**
   * Key prefix of every object, such as `'ticket_metrics/'`; a missing trailing `/` is added.
   * Default: none (the bucket's root).
   */
  readonly prefix?: string;
  /**
   * A ready S3 client; `endpoint`, `region`, `retry`, `onRetry` and the timeouts are then ignored (the
   * client retries as it was configured to). Default: a client built from the standard AWS chain
   * (environment, shared config and credentials files, SSO, container and instance roles) with the
   * retry strategy of `retry`.
   */
  readonly client?: S3Client;
  /**
   * An S3-compatible endpoint such as `http://127.0.0.1:5000`; when set, requests use path-style
   * addressing (`endpoint/bucket/key`), which S3-compatible servers need. Default: the
   * `AWS_ENDPOINT_URL_S3` environment variable, else `AWS_ENDPOINT_URL`, else AWS's own endpoint.
   */
  readonly endpoint?: string;
  /** The region. Default: from the AWS chain (`AWS_REGION`, the profile's `region`), else `us-east-1`. */
  readonly region?: string;
  /** Retrying of throttled, failed (5xx), timed-out and refused or reset requests. */
  readonly retry?: S3RetryOptions;
  /** How long to wait for a TCP connection, in ms. Default 5000. */
  readonly connectionTimeoutMs?: number;
  /** How long a request may take, from sending to the end of the response, in ms. Default 30000. */
  readonly requestTimeoutMs?: number;
  /** Keys asked for per `ListObjectsV2` request by `list`. Default 1000, S3's maximum. */
  readonly listPageSize?: number;
  /** Called before each retry, for logs. Default: nothing. */
  readonly onRetry?: (event: S3RetryEvent) => void;
  /** Read environment for the endpoint variables. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

/** A {@link BlobStore} on an S3 bucket and prefix; see {@link s3BlobStore}. */
export interface S3BlobStore extends BlobStore {
  /** The bucket. */
  readonly bucket: string;
  /** The key prefix, `''` or ending with `/`. */
  readonly prefix: string;
  /**
   * Writes `body` under `key` only when no object has that key: a `PutObject` with `If-None-Match: *`.
   * Resolves `false`, leaving the object untouched, when the key already held one. Always present on
   * this store, so that it can hold an output lease (`acquireLease` of `@ticketflow/core`).
   */
  putIfAbsent(key: string, body: Uint8Array | string): Promise<boolean>;
  /**
   * Checks that the bucket exists and the credentials may list it (one `ListObjectsV2` of at most one
   * key), so that a wrong setting fails before any work is done. Rejects with a {@link TicketflowError}:
   * `STORAGE_NOT_FOUND` for a missing bucket, `AUTHENTICATION_FAILED` for refused credentials.
   */
  check(): Promise<void>;
  /** Closes the client's connections, when the store built the client itself. */
  close(): Promise<void>;
}

type S3Sdk = typeof import('@aws-sdk/client-s3');

/** The SDK module and the client, once loaded. */
interface Connection {
  readonly sdk: S3Sdk;
  readonly s3: S3Client;
}

/** A parsed `s3://bucket/prefix` URL. */
export interface S3Location {
  /** The bucket name. */
  readonly bucket: string;
  /** The key prefix, `''` or ending with `/`. */
  readonly prefix: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses `s3://bucket` or `s3://bucket/some/prefix` into a bucket and a key prefix ending with `/`.
 * Throws an {@link InvalidOptionError} naming `what` for anything else.
 *
 * @example
 * ```ts
 * parseS3Url('s3://analytics/tickets') // { bucket: 'analytics', prefix: 'tickets/' }
 * ```
 */
export function parseS3Url(url: string, what = 'the S3 location'): S3Location {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(url);
  if (!match)
    throw new InvalidOptionError(`${what} must look like s3://bucket/prefix, got ${JSON.stringify(url)}`);
  const bucket = match[1] ?? '';
  if (!BUCKET_NAME.test(bucket)) {
    throw new InvalidOptionError(
      `${what}: ${JSON.stringify(bucket)} is not a valid S3 bucket name (3 to 63 of a-z, 0-9, '.', '-')`,
    );
  }
  return { bucket, prefix: normalizePrefix(match[2] ?? '') };
}

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, '');
  return trimmed === '' || trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

/** The content type of an object, from its key's extension. */
function contentTypeOf(key: string): string {
  if (key.endsWith('.gz')) return 'application/gzip';
  if (key.endsWith('.jsonl')) return 'application/x-ndjson';
  if (key.endsWith('.json')) return 'application/json';
  return 'application/octet-stream';
}

const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
]);
const TRANSIENT_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  // The bytes were damaged on the way (Content-MD5 or checksum mismatch): sending them again helps.
  'BadDigest',
  'XAmzContentSHA256Mismatch',
  'IncompleteBody',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
]);

interface ErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/** What a failed request says about itself: its S3 code or network code, and its HTTP status. */
function inspect(error: unknown): { code: string; status: number | undefined; retriable: boolean } {
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorShape;
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const errno = typeof e.code === 'string' ? e.code : undefined;
  const name = typeof e.name === 'string' && e.name !== 'Error' ? e.name : undefined;
  const code = errno ?? name ?? (status !== undefined ? `HTTP ${status}` : 'unknown error');
  const retriable =
    (status !== undefined && (status >= 500 || status === 429)) ||
    (errno !== undefined && NETWORK_CODES.has(errno)) ||
    (name !== undefined && (TRANSIENT_CODES.has(name) || name === 'TimeoutError')) ||
    (e.$retryable !== undefined && e.$retryable !== null && e.$retryable !== false);
  return { code, status, retriable };
}

/** The store operation a request belongs to, for the retry events. */
const operationContext = new AsyncLocalStorage<{
  readonly operation: S3Operation;
  readonly location: string;
  readonly onRetry: ((event: S3RetryEvent) => void) | undefined;
}>();
/** The failure the SDK is deciding about, while it computes the wait before a retry. */
const failureContext = new AsyncLocalStorage<unknown>();

/**
 * The SDK's configured retry strategy, reporting each retry it decides on: the backoff is computed only
 * once the strategy has decided to retry, so that is where the event is raised. Loaded with the SDK.
 */
async function reportingRetryStrategy(
  maxAttempts: number,
  backoff: (attempt: number) => number,
): Promise<ConfiguredRetryStrategy> {
  const { ConfiguredRetryStrategy: Base } = await import('@smithy/core/retry');
  class ReportingRetryStrategy extends Base {
    constructor() {
      super(maxAttempts, (attempt) => {
        const delayMs = backoff(attempt);
        const context = operationContext.getStore();
        context?.onRetry?.({
          operation: context.operation,
          location: context.location,
          attempt,
          maxAttempts,
          delayMs,
          reason: inspect(failureContext.getStore()).code,
        });
        return delayMs;
      });
    }
    override refreshRetryTokenForRetry(
      ...args: Parameters<ConfiguredRetryStrategy['refreshRetryTokenForRetry']>
    ): ReturnType<ConfiguredRetryStrategy['refreshRetryTokenForRetry']> {
      return failureContext.run(args[1].error, () => super.refreshRetryTokenForRetry(...args));
    }
  }
  return new ReportingRetryStrategy();
}

/**
 * A {@link BlobStore} on an S3 bucket (or any S3-compatible server), on `@aws-sdk/client-s3`.
 *
 * - `put` is one `PutObject` with a `Content-MD5`, so S3 checks the bytes it stores, and resolves only
 *   once S3 has confirmed the write; an S3 object is replaced atomically, so a reader sees the old
 *   object or the whole new one. Writing a key again with the same bytes leaves the same object.
 * - `putIfAbsent` is a `PutObject` with `If-None-Match: *`: S3 (and moto 5.2) answer 412
 *   `PreconditionFailed` when the key exists, so of racing writers exactly one creates the object.
 * - Throttling (`SlowDown`, HTTP 429 and 503), other 5xx answers, timeouts and refused or reset
 *   connections are retried by the AWS SDK's retry strategy ({@link S3RetryOptions}) with exponential
 *   backoff, without jitter (one writer per output location): 200 ms, 400 ms, 800 ms, … up to 5 s
 *   between attempts, 8 attempts, so a server that is away for about 15 s is ridden out. Refused
 *   credentials (`AUTHENTICATION_FAILED`) and a missing bucket (`STORAGE_NOT_FOUND`) fail at once.
 * - Every failure is a {@link TicketflowError} with a one-line message that never holds a secret.
 *
 * @example
 * ```ts
 * const store = s3BlobStore({ ...parseS3Url('s3://analytics/tickets'), onRetry: (e) => console.warn(e) });
 * await store.check();
 * const sink = jsonSink({ store, layout: 'hive', gzip: true });
 * ```
 */
export function s3BlobStore(options: S3BlobStoreOptions): S3BlobStore {
  const { bucket } = options;
  if (!BUCKET_NAME.test(bucket)) {
    throw new InvalidOptionError(`${JSON.stringify(bucket)} is not a valid S3 bucket name`);
  }
  const prefix = normalizePrefix(options.prefix ?? '');
  const env = options.env ?? process.env;
  const endpoint = options.endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined);
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) {
    throw new InvalidOptionError(
      `the S3 endpoint must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`,
    );
  }
  const fromEnv = env.AWS_MAX_ATTEMPTS ? Number(env.AWS_MAX_ATTEMPTS) : undefined;
  const maxAttempts = options.retry?.maxAttempts ?? fromEnv ?? 8;
  const baseDelayMs = options.retry?.baseDelayMs ?? 200;
  const maxDelayMs = options.retry?.maxDelayMs ?? 5000;
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1))
    throw new InvalidOptionError(
      `retry.maxAttempts (or AWS_MAX_ATTEMPTS) must be a whole number of at least 1, got ${maxAttempts}`,
    );
  if (!(baseDelayMs >= 0 && maxDelayMs >= 0))
    throw new InvalidOptionError('retry.baseDelayMs and retry.maxDelayMs must not be negative');

  const listPageSize = options.listPageSize ?? 1000;
  if (!(Number.isInteger(listPageSize) && listPageSize >= 1 && listPageSize <= 1000))
    throw new InvalidOptionError(`listPageSize must be a whole number from 1 to 1000, got ${listPageSize}`);
  const url = (key: string) => `s3://${bucket}/${prefix}${key}`;
  const ownsClient = options.client === undefined;
  let connection: Promise<Connection> | undefined;

  const connect = async (): Promise<Connection> => {
    // Loaded on first use: programs that only write local files never pay for the SDK (~250 ms).
    const sdk = await import('@aws-sdk/client-s3');
    return { sdk, s3: await buildClient(sdk) };
  };
  const buildClient = async ({ S3Client }: S3Sdk): Promise<S3Client> => {
    if (options.client) return options.client;
    const config: S3ClientConfig = {
      retryStrategy: await reportingRetryStrategy(maxAttempts, (attempt) =>
        Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)),
      ),
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 5000,
        requestTimeout: options.requestTimeoutMs ?? 30_000,
        throwOnRequestTimeout: true,
      },
      ...(endpoint !== undefined ? { endpoint, forcePathStyle: true } : {}),
    };
    if (options.region !== undefined) return new S3Client({ ...config, region: options.region });
    const fromChain = new S3Client(config);
    try {
      await fromChain.config.region();
      return fromChain;
    } catch {
      fromChain.destroy();
      return new S3Client({ ...config, region: 'us-east-1' });
    }
  };
  const getConnection = () => {
    connection ??= connect();
    return connection;
  };

  /** Turns a final failure into a one-line TicketflowError. */
  const failure = (error: unknown, operation: S3Operation, location: string, attempts: number) => {
    if (error instanceof TicketflowError) return error;
    const { code, status, retriable } = inspect(error);
    const doing = operation === 'check' ? `cannot open ${location}` : `cannot ${operation} ${location}`;
    if (code === 'NoSuchBucket' || (operation === 'check' && status === 404)) {
      return new TicketflowError('STORAGE_NOT_FOUND', `S3 bucket "${bucket}" does not exist`, {
        cause: error,
      });
    }
    if (AUTH_CODES.has(code)) {
      return new TicketflowError(
        'AUTHENTICATION_FAILED',
        `S3 refused the credentials for bucket "${bucket}" (${code}): check AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
        { cause: error },
      );
    }
    if (code === 'AccessDenied' || code === 'AllAccessDisabled' || status === 403) {
      return new TicketflowError(
        'AUTHENTICATION_FAILED',
        `${doing}: access denied (${code}); the credentials lack permission on bucket "${bucket}"`,
        { cause: error },
      );
    }
    if (code === 'CredentialsProviderError') {
      return new TicketflowError(
        'AUTHENTICATION_FAILED',
        `${doing}: no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`,
        { cause: error },
      );
    }
    if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || status === 301) {
      return new TicketflowError(
        'SINK_FAILED',
        `${doing}: bucket "${bucket}" is in another region (${code}); set AWS_REGION to the bucket's region`,
        { cause: error },
      );
    }
    if (retriable) {
      return new TicketflowError(
        'SINK_FAILED',
        `${doing}: S3 still failing after ${attempts} attempt${attempts === 1 ? '' : 's'} (${code})`,
        { cause: error, retriable: true },
      );
    }
    const detail =
      typeof (error as ErrorShape).message === 'string' ? (error as { message: string }).message : '';
    const said = firstLine(detail);
    return new TicketflowError(
      'SINK_FAILED',
      `${doing}: ${code}${said && said !== code ? `: ${said}` : ''}`,
      {
        cause: error,
      },
    );
  };

  /**
   * The `PutObject` request of `put` and `putIfAbsent`: the bytes with their length, a `Content-MD5`
   * (so that S3 checks the bytes it stores) and a content type from the key's extension.
   */
  const putObjectRequest = (key: string, body: Uint8Array | string): PutObjectCommandInput => {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    return {
      Bucket: bucket,
      Key: prefix + key,
      Body: bytes,
      ContentLength: bytes.byteLength,
      ContentMD5: createHash('md5').update(bytes).digest('base64'),
      ContentType: contentTypeOf(key),
    };
  };

  /** Runs one operation; the SDK retries passing failures (see {@link S3RetryOptions}). */
  const attempt = async <T>(
    operation: S3Operation,
    location: string,
    run: (c: Connection) => Promise<T>,
  ): Promise<T> => {
    const c = await getConnection();
    try {
      return await operationContext.run({ operation, location, onRetry: options.onRetry }, () => run(c));
    } catch (error) {
      const attempts = (error as { $metadata?: { attempts?: unknown } }).$metadata?.attempts;
      throw failure(error, operation, location, typeof attempts === 'number' ? attempts : 1);
    }
  };

  return {
    bucket,
    prefix,
    async put(key, body) {
      const request = putObjectRequest(key, body);
      await attempt('put', url(key), ({ s3, sdk }) => s3.send(new sdk.PutObjectCommand(request)));
    },
    async putIfAbsent(key, body) {
      const request = { ...putObjectRequest(key, body), IfNoneMatch: '*' };
      return attempt('create', url(key), async ({ s3, sdk }) => {
        try {
          await s3.send(new sdk.PutObjectCommand(request));
          return true;
        } catch (error) {
          const { code, status } = inspect(error);
          if (code === 'PreconditionFailed' || status === 412) return false;
          if (code === 'ConditionalRequestConflict' || status === 409) {
            // Another conditional write of this key is in flight: its outcome decides, ask again.
            throw new TicketflowError(
              'SINK_FAILED',
              `cannot create ${url(key)}: a concurrent conditional write is in progress (${code})`,
              { cause: error, retriable: true },
            );
          }
          throw error;
        }
      });
    },
    async get(key) {
      return attempt('get', url(key), async ({ s3, sdk }) => {
        try {
          const response = await s3.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: prefix + key }));
          if (response.Body === undefined) return new Uint8Array();
          return await response.Body.transformToByteArray();
        } catch (error) {
          if (inspect(error).code === 'NoSuchKey') return undefined;
          throw error;
        }
      });
    },
    async list(keyPrefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await attempt('list', url(keyPrefix), ({ s3, sdk }) =>
          s3.send(
            new sdk.ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix + keyPrefix,
              MaxKeys: listPageSize,
              ...(token !== undefined ? { ContinuationToken: token } : {}),
            }),
          ),
        );
        for (const object of page.Contents ?? []) {
          if (object.Key?.startsWith(prefix)) keys.push(object.Key.slice(prefix.length));
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return keys.sort();
    },
    async delete(key) {
      await attempt('delete', url(key), ({ s3, sdk }) =>
        s3.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: prefix + key })),
      );
    },
    describe: url,
    async check() {
      await attempt('check', url(''), ({ s3, sdk }) =>
        s3.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 })),
      );
    },
    async close() {
      const open = connection;
      connection = undefined;
      if (ownsClient && open !== undefined) {
        await open.then(
          ({ s3 }) => s3.destroy(),
          () => {},
        );
      }
    },
  };
}
