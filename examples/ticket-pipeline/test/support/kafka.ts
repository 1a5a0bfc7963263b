import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
// The Kafka client helpers of the kafka-source package's tests, shared rather than copied here.
import { createTopicWith } from '../../../../packages/kafka-source/test/support/raw-kafka';
import { ROOT, runCli } from './cli';

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

/** Creates a topic with the given partitions. */
export function createTopic(topic: string, partitions: number): Promise<void> {
  return createTopicWith(topic, partitions);
}

/**
 * Produces `count` seeded tickets to `topic` with the CLI's `produce` (the first `count` of
 * `generatedTickets(count, seed, badFraction)`); fails unless every one was delivered.
 */
export async function produceTickets(
  topic: string,
  count: number,
  seed: number,
  options: { readonly badFraction?: number } = {},
): Promise<void> {
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
    ...(options.badFraction !== undefined ? ['--bad-fraction', String(options.badFraction)] : []),
  ]);
  if (result.code !== 0 || !result.stderr.includes(`${count} delivered, 0 failed`)) {
    throw new Error(
      `producing ${count} tickets to ${topic} failed (exit ${result.code}): ${result.stderr.slice(-500)}`,
    );
  }
}
