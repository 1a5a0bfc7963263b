import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';

/** An access key pair. */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** A running `moto_server`. */
export interface MotoServer {
  /** `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  readonly port: number;
  /**
   * The access key to use. Without `auth`, moto accepts any key and this is `testing`/`testing`; with
   * `auth`, it is the only key moto knows (allowed everything), and any other is refused.
   */
  readonly credentials: Credentials;
  /**
   * Environment for a child process or an SDK default chain: the credentials, a region, the endpoint
   * (`endpoint` to go through a proxy), and no instance-metadata look-ups.
   */
  env(endpoint?: string, credentials?: Credentials): Record<string, string>;
  /** An S3 client talking straight to moto with the good credentials. */
  client(config?: Partial<S3ClientConfig>): S3Client;
  createBucket(name: string): Promise<void>;
  /** Every key under a prefix, sorted. */
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  /** An object's bytes, or `undefined`. */
  getObject(bucket: string, key: string): Promise<Buffer | undefined>;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

// The SDK warns, over several lines, that its 2027 releases will need Node.js 22; not news for tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SETUP_CREDENTIALS: Credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const REGION = 'us-east-1';

/** Creates an IAM user allowed everything and returns its access key (before authentication is on). */
async function createAllowedKey(endpoint: string): Promise<Credentials> {
  const iam = new IAMClient({ endpoint, region: REGION, credentials: SETUP_CREDENTIALS });
  try {
    await iam.send(new CreateUserCommand({ UserName: 'ticketflow-test' }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'ticketflow-test',
        PolicyName: 'everything',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
        }),
      }),
    );
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'ticketflow-test' }))).AccessKey;
    if (!key?.AccessKeyId || !key.SecretAccessKey) throw new Error('moto created no access key');
    return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
  } finally {
    iam.destroy();
  }
}

/**
 * Waits until moto says which port it bound (it is started on port 0, so that the kernel picks a free
 * one and no other process can take it first), then until it answers HTTP; returns its endpoint.
 */
async function waitUntilAnswering(child: ChildProcess, log: () => string): Promise<string> {
  const deadline = Date.now() + 60_000;
  let endpoint: string | undefined;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${log()}`);
    endpoint ??= /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(log())?.[1];
    if (endpoint !== undefined) {
      try {
        await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1000) });
        return endpoint;
      } catch {}
    }
    await sleep(100);
  }
  throw new Error(`moto_server did not answer within 60 s: ${log()}`);
}

/**
 * Starts `moto_server` on a loopback port chosen by the kernel (install it with
 * `bash scripts/setup-moto.sh`) and creates `buckets`.
 *
 * With `auth`, it then switches moto's IAM authentication on (`POST /moto-api/reset-auth` with `0`, the
 * server-mode form of `INITIAL_NO_AUTH_ACTION_COUNT=0`): from then on every request is checked against
 * the access keys moto's IAM holds, so an unknown key gets `403 InvalidAccessKeyId` and a wrong secret
 * `403 SignatureDoesNotMatch`, as on AWS. The one key that works is created beforehand for an IAM user
 * with an allow-everything policy. Only the credential tests use it: moto 5's signature check
 * miscomputes the canonical request for keys holding `=` (such as `dt=2026-03-01/...`) and for list
 * prefixes holding `/`, so it refuses some correctly signed requests.
 */
export async function startMoto(
  options: { buckets?: readonly string[]; auth?: boolean } = {},
): Promise<MotoServer> {
  let output = '';
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new Error('moto_server is not on PATH: run `bash scripts/setup-moto.sh`')
          : error,
      ),
    );
  });
  await spawned;
  // Should the test process end without calling stop(), the server goes with it.
  const killOnExit = () => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }
  };
  process.once('exit', killOnExit);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = once(child, 'exit');
    process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
    process.off('exit', killOnExit);
  };
  try {
    const endpoint = await waitUntilAnswering(child, () => output);
    const port = Number(new URL(endpoint).port);

    let credentials = SETUP_CREDENTIALS;
    if (options.auth) credentials = await createAllowedKey(endpoint);
    const client = (config: Partial<S3ClientConfig> = {}) =>
      new S3Client({ endpoint, region: REGION, forcePathStyle: true, credentials, ...config });
    const setup = client();
    for (const bucket of options.buckets ?? []) await setup.send(new CreateBucketCommand({ Bucket: bucket }));
    setup.destroy();
    if (options.auth) {
      const enabled = await fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
      if (!enabled.ok) throw new Error(`moto refused to switch authentication on: HTTP ${enabled.status}`);
    }

    const admin = client();
    return {
      endpoint,
      port,
      credentials,
      env: (through = endpoint, using = credentials) => ({
        AWS_ACCESS_KEY_ID: using.accessKeyId,
        AWS_SECRET_ACCESS_KEY: using.secretAccessKey,
        AWS_REGION: REGION,
        AWS_ENDPOINT_URL: through,
        AWS_EC2_METADATA_DISABLED: 'true',
      }),
      client,
      async createBucket(name) {
        await admin.send(new CreateBucketCommand({ Bucket: name }));
      },
      async listKeys(bucket, prefix = '') {
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const page = await admin.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
          );
          for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return keys.sort();
      },
      async getObject(bucket, key) {
        try {
          const response = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          return Buffer.from((await response.Body?.transformToByteArray()) ?? []);
        } catch (error) {
          if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
          throw error;
        }
      },
      async stop() {
        admin.destroy();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
