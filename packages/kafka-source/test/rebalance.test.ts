import { randomUUID } from 'node:crypto';
import { count, createPipeline, memoryCheckpointStore, metrics, sum } from '@ticketflow/core';
import { memorySink } from '@ticketflow/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createKafkaProducer, type KafkaRecord, kafkaSource } from '../src/index';
import { BROKERS, createTopic, ensureBroker } from './support/broker';

beforeAll(() => ensureBroker());

async function produceNumbers(topic: string, from: number, to: number): Promise<void> {
  const producer = await createKafkaProducer({ brokers: BROKERS });
  for (let n = from; n < to; n++) await producer.send(topic, JSON.stringify({ n }), { key: String(n) });
  await producer.close();
}

const spec = metrics({ count: count(), sum: sum((r: { n: number }) => r.n) });

function processor(topic: string, group: string) {
  const sink = memorySink<ReturnType<typeof spec.result>>();
  const events: string[] = [];
  const source = kafkaSource({
    brokers: BROKERS,
    topic,
    groupId: group,
    onEvent: (e) => events.push(e.message),
  });
  const pipeline = createPipeline({
    source,
    decode: (record: KafkaRecord) => JSON.parse(String(record.value)) as { n: number },
    metrics: spec,
    sink,
    checkpoint: memoryCheckpointStore(),
    // Windows far longer than the test: only the rebalance and the stop close them.
    window: { span: '10m' },
  });
  const run = pipeline.run();
  const seen = () => sink.batches.reduce((s, b) => s + b.metrics.count, 0);
  const total = () => sink.batches.reduce((s, b) => s + b.metrics.sum, 0);
  return { sink, events, pipeline, run, seen, total, source };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('kafkaSource in a consumer group', () => {
  it('writes the open batch before giving partitions up, so a rebalance loses and repeats nothing', async () => {
    const topic = `rebalance-${randomUUID().slice(0, 8)}`;
    const group = `g-${topic}`;
    await createTopic(topic, 4);
    await produceNumbers(topic, 0, 2000);

    const first = processor(topic, group);
    await waitFor(() => first.events.some((e) => e.startsWith('assigned')), 'the first assignment');
    // Nothing is written yet: the 10-minute window is still open when the second member joins.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(first.sink.batches).toHaveLength(0);

    const second = processor(topic, group);
    await waitFor(() => first.sink.batches.length > 0, 'the batch written on revocation');
    expect(first.events.some((e) => e.startsWith('revoking'))).toBe(true);
    await waitFor(() => second.events.some((e) => e.startsWith('assigned')), 'the second assignment');

    await produceNumbers(topic, 2000, 4000);
    // Once both members have read to the end, each writes its open window when stopped, and every
    // record must then be in exactly one batch.
    const readToEnd = () => {
      const lags = [...first.source.lag(), ...second.source.lag()];
      return lags.length === 4 && lags.every((p) => p.lag === 0);
    };
    await waitFor(readToEnd, 'both members to read every partition to its end');
    first.pipeline.stop();
    second.pipeline.stop();
    await Promise.all([first.run, second.run]);
    expect(first.seen() + second.seen()).toBe(4000);
    expect(first.total() + second.total()).toBe((3999 * 4000) / 2);
  });
});
