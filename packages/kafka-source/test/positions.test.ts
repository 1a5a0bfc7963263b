import { randomUUID } from 'node:crypto';
import {
  type BatchPlan,
  type CheckpointState,
  type CheckpointStore,
  count,
  createPipeline,
  metrics,
  sum,
} from '@ticketflow/core';
import { memorySink } from '@ticketflow/core/testing';
import { BehaviorSubject } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type KafkaRecord, kafkaSource } from '../src/index';
import {
  addPartitions,
  commitGroupOffset,
  openSource,
  produceInTransaction,
  produceTo,
  waitUntil,
} from './support/admin';
import { BROKERS, createTopic, ensureBroker } from './support/broker';

beforeAll(() => ensureBroker());

const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const numbers = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => JSON.stringify({ n: from + i }));

describe('kafkaSource positions', () => {
  it('reports lag 0 once a transactional topic is read to its end, past the commit marker', async () => {
    const topic = fresh('lag-txn');
    await createTopic(topic, 1);
    // Eight records and the transaction's commit marker: the log end offset is 9, the last record's 7.
    await produceInTransaction(topic, numbers(0, 8));
    const source = kafkaSource({ brokers: BROKERS, topic, groupId: `g-${topic}` });
    const opened = openSource(source);
    try {
      await waitUntil(() => opened.values().length === 8, 'the eight records');
      await waitUntil(() => source.lag().length === 1, 'a lag sample');
      // The lag may lag one fetch behind the records: wait for it to settle, then it must be 0.
      await waitUntil(() => source.lag()[0]?.lag === 0, 'lag 0', 15_000);
      expect(source.lag()).toEqual([{ partition: 0, lag: 0 }]);
    } finally {
      await opened.close();
    }
  });

  it('reports lag 0 only once every record is handed over, not while a poll is still collecting them', async () => {
    const topic = fresh('lag-handed');
    await createTopic(topic, 1);
    const total = 40_000;
    await produceTo(topic, 0, numbers(0, total));
    const source = kafkaSource({ brokers: BROKERS, topic, groupId: `g-${topic}`, batchSize: 5_000 });
    const abort = new AbortController();
    let handed = 0;
    /** Offsets handed over out of order or twice (a poll started before the previous one was handed over). */
    const misordered: number[] = [];
    /** The records handed over whenever lag() said 0. */
    const handedAtLagZero: number[] = [];
    const sample = () => {
      const lag = source.lag();
      if (lag.length === 1 && lag[0]?.lag === 0) handedAtLagZero.push(handed);
    };
    const subscription = source
      .open({
        startAt: {},
        signal: abort.signal,
        pressure: new BehaviorSubject(false),
        flush: async () => {},
      })
      .subscribe((chunk) => {
        for (let i = 0; i < chunk.offsets.length; i++) {
          const offset = chunk.offsets[i] as number;
          if (offset !== handed++) misordered.push(offset);
        }
        // A slow consumer of the chunk: meanwhile the client collects the next poll's batch, moving its
        // own position past records not handed over yet.
        const until = Date.now() + 50;
        while (Date.now() < until) {}
        sample();
      });
    const sampler = setInterval(sample, 1);
    try {
      await waitUntil(() => handedAtLagZero.length > 0, 'lag 0');
      expect(handedAtLagZero[0]).toBe(total);
      expect(misordered).toEqual([]);
    } finally {
      clearInterval(sampler);
      abort.abort();
      subscription.unsubscribe();
      await source.close?.();
    }
  });

  it('hands records over as they arrive at a low rate, whatever the poll timeout', async () => {
    const topic = fresh('low-rate');
    await createTopic(topic, 1);
    // A poll waiting 3 s for each message would gather every record of this test into one chunk.
    const events: string[] = [];
    const opened = openSource(
      kafkaSource({
        brokers: BROKERS,
        topic,
        groupId: `g-${topic}`,
        pollTimeoutMs: 3_000,
        onEvent: (e) => events.push(e.message),
      }),
    );
    try {
      await waitUntil(() => events.some((e) => e.startsWith('assigned')), 'the assignment');
      // About 10 tickets a second, each sent on its own.
      for (let n = 0; n < 30; n++) {
        await produceTo(topic, 0, numbers(n, n + 1));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await waitUntil(() => opened.values().length === 30, 'the 30 records');
      const sizes = opened.chunks.filter((c) => c.values.length > 0).map((c) => c.values.length);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(30);
      // Each poll hands over what has arrived: small chunks, many of them.
      expect(Math.max(...sizes)).toBeLessThanOrEqual(5);
      expect(sizes.length).toBeGreaterThanOrEqual(6);
    } finally {
      await opened.close();
    }
  });

  it('with startFrom latest, reads partitions added later from their beginning and finds them soon', async () => {
    const topic = fresh('grow');
    await createTopic(topic, 1);
    await produceTo(topic, 0, numbers(0, 5)); // before the group exists: skipped by `latest`
    const events: string[] = [];
    const spec = metrics({ count: count(), sum: sum((r: { n: number }) => r.n) });
    const sink = memorySink<ReturnType<typeof spec.result>>();
    const pipeline = createPipeline({
      // The default metadata refresh: new partitions must be found within about 30 s.
      source: kafkaSource({
        brokers: BROKERS,
        topic,
        groupId: `g-${topic}`,
        startFrom: 'latest',
        onEvent: (e) => events.push(e.message),
      }),
      decode: (record: KafkaRecord) => JSON.parse(String(record.value)) as { n: number },
      metrics: spec,
      sink,
      window: { span: '500ms' },
    });
    const run = pipeline.run();
    const counted = () => sink.batches.reduce((s, b) => s + b.metrics.count, 0);
    try {
      await waitUntil(() => events.some((e) => e.startsWith('assigned')), 'the assignment');
      await produceTo(topic, 0, numbers(100, 105));
      await addPartitions(topic, 3);
      // Written at once, before the processor can know the new partitions exist.
      await produceTo(topic, 1, numbers(200, 205));
      await produceTo(topic, 2, numbers(300, 305));
      await waitUntil(() => counted() >= 15, 'the records of the old and new partitions', 45_000);
    } finally {
      pipeline.stop();
      await run;
    }
    expect(counted()).toBe(15);
    expect(sink.batches.reduce((s, b) => s + b.metrics.sum, 0)).toBe(510 + 1010 + 1510);
    expect(events.some((e) => /partition 1 was added after the processor started/.test(e))).toBe(true);
  });

  async function replayWithGroupAt(groupOffset: number) {
    const topic = fresh('replay-group');
    const group = `g-${topic}`;
    await createTopic(topic, 2);
    await produceTo(topic, 0, numbers(0, 10));
    await produceTo(topic, 1, numbers(100, 110));
    // This processor crashed while writing batch 1 over offsets 0..9 of both partitions; meanwhile
    // another member of the group counted partition 0 up to `groupOffset` and committed it.
    await commitGroupOffset(group, topic, 0, groupOffset);
    const pending: BatchPlan = {
      batchId: 1,
      windowStart: Date.parse('2026-01-01T00:00:00Z'),
      windowEnd: Date.parse('2026-01-01T00:00:30Z'),
      range: { [`${topic}/0`]: { from: 0, to: 9 }, [`${topic}/1`]: { from: 0, to: 9 } },
      positions: { [`${topic}/0`]: 10, [`${topic}/1`]: 10 },
    };
    const checkpoint: CheckpointStore = {
      location: 'test',
      load: async (): Promise<CheckpointState> => ({
        nextBatchId: 1,
        positions: { [`${topic}/0`]: 0, [`${topic}/1`]: 0 },
        pending,
      }),
      begin: async () => {},
      commit: async () => {},
    };
    const spec = metrics({ count: count(), sum: sum((r: { n: number }) => r.n) });
    const sink = memorySink<ReturnType<typeof spec.result>>();
    const events: string[] = [];
    const pipeline = createPipeline({
      source: kafkaSource({
        brokers: BROKERS,
        topic,
        groupId: group,
        onEvent: (e) => events.push(e.message),
      }),
      decode: (record: KafkaRecord) => JSON.parse(String(record.value)) as { n: number },
      metrics: spec,
      sink,
      checkpoint,
      window: { span: '10m' },
    });
    const run = pipeline.run();
    try {
      await waitUntil(() => sink.batches.length > 0, 'the replayed batch', 20_000);
    } finally {
      pipeline.stop();
      await run;
    }
    const note = `${topic} partition 0: group ${group} committed offset ${groupOffset}, ahead of this processor's checkpoint at 0`;
    return { replayed: sink.batches[0], noted: events.some((e) => e.includes(note)) };
  }

  it("replays a pending batch without the records the group's committed offset says were counted elsewhere", async () => {
    const { replayed, noted } = await replayWithGroupAt(6);
    expect(replayed?.batchId).toBe(1);
    // Partition 0 from offset 6 (4 records), partition 1 whole (10 records): 14, never 20.
    expect(replayed?.metrics.count).toBe(14);
    expect(replayed?.metrics.sum).toBe(6 + 7 + 8 + 9 + (100 * 10 + 45));
    expect(noted).toBe(true);
  });

  it('replays a pending batch at once when the group counted one of its partitions entirely', async () => {
    // Partition 0 has nothing past the group's offset: no record of it will come to end the replay.
    const { replayed, noted } = await replayWithGroupAt(10);
    expect(replayed?.batchId).toBe(1);
    expect(replayed?.metrics.count).toBe(10);
    expect(replayed?.metrics.sum).toBe(100 * 10 + 45);
    expect(noted).toBe(true);
  });

  it("warns, naming both positions, when the checkpoint is ahead of the group's committed offset", async () => {
    const topic = fresh('ahead');
    const group = `g-${topic}`;
    await createTopic(topic, 1);
    await produceTo(topic, 0, numbers(0, 12));
    // This processor committed a batch up to offset 9 but crashed before committing the offsets to the
    // group, which still says 6.
    await commitGroupOffset(group, topic, 0, 6);
    const events: Array<{ level: string; message: string }> = [];
    const opened = openSource(
      kafkaSource({ brokers: BROKERS, topic, groupId: group, onEvent: (e) => events.push(e) }),
      { [`${topic}/0`]: 10 },
    );
    try {
      await waitUntil(() => opened.values().length === 2, 'the records after the checkpoint');
      expect(opened.values()).toEqual(numbers(10, 12));
      expect(events).toContainEqual({
        level: 'warn',
        message: `${topic} partition 0: this processor's checkpoint is at offset 10 but group ${group} committed only 6: another member may have counted offsets 6 to 9 too (processors sharing a group with outputs of their own are not exactly once; the scale-out mode with --partials-topic is), resuming from 10`,
      });
    } finally {
      await opened.close();
    }
  });
});
