import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { kafkaModule } from '../../src/client';

const ROOT = resolve(import.meta.dirname, '../../../..');

/** The broker tests and benchmarks use: `KAFKA_BROKERS` when set, else the repository's local broker. */
export const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';

/** Starts the repository's broker unless `KAFKA_BROKERS` points elsewhere; returns at once when it is up. */
export function ensureBroker(): void {
  if (!process.env.KAFKA_BROKERS)
    execFileSync('bash', [join(ROOT, 'scripts/kafka/start.sh')], { stdio: 'inherit' });
}

/** Creates a topic with the given partitions. */
export async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = kafkaModule().AdminClient.create({ 'bootstrap.servers': BROKERS });
  try {
    await new Promise<void>((ok, fail) =>
      admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 15_000, (e) =>
        e ? fail(e) : ok(),
      ),
    );
  } finally {
    admin.disconnect();
  }
}
