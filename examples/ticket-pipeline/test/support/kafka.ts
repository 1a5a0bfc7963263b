import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT, runCli } from './cli';

type KafkaModule = typeof import('@confluentinc/kafka-javascript');
const Kafka = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as KafkaModule;

/** The plaintext listener tests use: `KAFKA_BROKERS` when set, else the repository's local broker. */
export const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
/** The local broker's SASL (SCRAM-SHA-256/512, PLAIN) and TLS listeners and credentials. */
export const SASL_BROKERS = '127.0.0.1:9094';
export const TLS_BROKERS = '127.0.0.1:9095';
export const SASL_USER = 'ticketflow';
export const SASL_PASSWORD = 'ticketflow-secret';
export const CA_FILE = join(ROOT, '.cache/kafka/tls/ca.pem');

/** Starts the repository's broker unless `KAFKA_BROKERS` points elsewhere; returns at once when it is up. */
export function ensureBroker(): void {
  if (process.env.KAFKA_BROKERS) return;
  execFileSync('bash', [join(ROOT, 'scripts/kafka/start.sh')], { stdio: 'inherit' });
}

/** Stops the local broker (its data is kept) and starts it again after `downMs`. */
export async function bounceBroker(downMs: number): Promise<void> {
  execFileSync('bash', [join(ROOT, 'scripts/kafka/stop.sh')], { stdio: 'inherit' });
  await new Promise((resolve) => setTimeout(resolve, downMs));
  execFileSync('bash', [join(ROOT, 'scripts/kafka/start.sh'), '--keep-data'], { stdio: 'inherit' });
}

/** The arguments of `process` reading `topic` in a group of its own into `out`, then `extra`. */
export function processArgs(topic: string, out: string, extra: readonly string[] = []): string[] {
  return ['process', '--brokers', BROKERS, '--topic', topic, '--group', `g-${topic}`, '--out', out, ...extra];
}

/** A fresh topic name, so that tests never share data. */
export function freshTopic(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

function call<T>(fn: (cb: (error: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));
}

/** Creates a topic with the given partitions. */
export async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': BROKERS });
  try {
    await call<void>((cb) =>
      admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 15_000, cb as never),
    );
  } finally {
    admin.disconnect();
  }
}

/** Reads every message of a topic from the start, until `count` arrived or `timeoutMs` passed. */
export async function readTopic(
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<Array<{ value: string; headers: Record<string, string>; partition: number; offset: number }>> {
  const consumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': BROKERS, 'group.id': `reader-${randomUUID()}`, 'enable.auto.commit': false },
    { 'auto.offset.reset': 'earliest' },
  );
  await call<unknown>((cb) => consumer.connect({ timeout: 15_000 }, cb as never));
  consumer.subscribe([topic]);
  consumer.setDefaultConsumeTimeout(200);
  const out: Array<{ value: string; headers: Record<string, string>; partition: number; offset: number }> =
    [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (out.length < count && Date.now() < deadline) {
      const messages = await call<import('@confluentinc/kafka-javascript').Message[]>((cb) =>
        consumer.consume(1000, cb as never),
      );
      for (const m of messages) {
        const headers: Record<string, string> = {};
        for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) headers[k] = String(v);
        out.push({ value: m.value?.toString() ?? '', headers, partition: m.partition, offset: m.offset });
      }
    }
  } finally {
    await call<unknown>((cb) => consumer.disconnect(cb as never));
  }
  return out;
}

/** Produces `count` seeded tickets to `topic` with the CLI's `produce`; fails unless every one was delivered. */
export async function produceTickets(topic: string, count: number, seed: number): Promise<void> {
  const result = await runCli([
    'produce',
    '--brokers',
    BROKERS,
    '--topic',
    topic,
    '--count',
    String(count),
    '--seed',
    String(seed),
  ]);
  if (!result.stderr.includes(`${count} delivered, 0 failed`)) {
    throw new Error(`producing ${count} tickets to ${topic} failed: ${result.stderr.slice(-500)}`);
  }
}
