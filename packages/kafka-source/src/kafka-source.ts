import type { KafkaConsumer, LibrdKafkaError, Message, TopicPartition } from '@confluentinc/kafka-javascript';
import {
  InvalidOptionError,
  type Positions,
  type RecordChunk,
  type Source,
  type SourceContext,
  TicketflowError,
} from '@ticketflow/core';
import { Observable } from 'rxjs';
import { call, connectClient, kafkaModule } from './client';
import { type KafkaConnectionOptions, librdkafkaConfig } from './connection';
import { fromClientError, isAuthenticationError, RDKAFKA } from './kafka-errors';
import type { KafkaRecord } from './kafka-record';

/** A message the source reports about itself: connection trouble, rebalances. */
export interface KafkaSourceEvent {
  /** How serious it is. */
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  /** One line, without secrets. */
  readonly message: string;
}

/** Options of {@link kafkaSource}. */
export interface KafkaSourceOptions extends KafkaConnectionOptions {
  /** The topic to read. */
  readonly topic: string;
  /** The consumer group. Default `'ticketflow'`. */
  readonly groupId?: string;
  /** Where a group with no committed offset starts: `'earliest'` (default) or `'latest'`. */
  readonly startFrom?: 'earliest' | 'latest';
  /**
   * A stable id of this processor for static group membership: a restarted processor with the same id
   * gets its partitions back at once instead of after the session timeout. Default: none (dynamic).
   */
  readonly instanceId?: string;
  /** How long the group waits for a silent member before reassigning its partitions, in ms. Default 10 000. */
  readonly sessionTimeoutMs?: number;
  /** Messages fetched per poll. Default 5 000. */
  readonly batchSize?: number;
  /** Receives connection and rebalance events. Default: ignored. */
  readonly onEvent?: (event: KafkaSourceEvent) => void;
}

/** Lag of one partition: messages in the topic not read yet. */
export interface PartitionLag {
  /** The partition. */
  readonly partition: number;
  /** The partition's high watermark minus the next offset to read. */
  readonly lag: number;
}

/** A Kafka {@link Source}, with a view of its consumer lag. */
export interface KafkaSource extends Source<KafkaRecord> {
  /**
   * Lag per assigned partition, from the client's latest fetch responses: the high watermark minus the
   * next offset to read (the checkpoint's position before anything was read; 0 for an empty partition).
   * A partition without a fetch response yet is left out.
   */
  lag(): PartitionLag[];
  /**
   * True while the client reaches the brokers: false before the first connection and after the client
   * reports every broker down, true again once messages arrive or a metadata request succeeds.
   */
  connected(): boolean;
}

/** The lane name of a topic partition, as batch ranges and dead letters show it. */
export function laneOf(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** The topic and partition of a lane named by {@link laneOf}. */
export function parseLane(lane: string): { topic: string; partition: number } | undefined {
  const slash = lane.lastIndexOf('/');
  const partition = Number(lane.slice(slash + 1));
  if (slash <= 0 || !Number.isInteger(partition)) return undefined;
  return { topic: lane.slice(0, slash), partition };
}

/**
 * Reads a Kafka or Redpanda topic in a consumer group, for the micro-batch engine.
 *
 * Auto-commit is off: offsets are committed explicitly, for each partition of a batch, only once the
 * engine has written and checkpointed the batch. A partition the checkpoint knows is read from the
 * checkpoint's position, so a batch replayed after a crash covers the same records. Before partitions
 * are revoked in a rebalance, the open window is written and committed, so nothing read from them is
 * lost or counted twice. Reading pauses while batches wait for a slow sink.
 *
 * @example
 * ```ts
 * const source = kafkaSource({
 *   brokers: 'seed.cloud.redpanda.com:9092',
 *   topic: 'client_tickets',
 *   sasl: { mechanism: 'scram-sha-256', username: 'ticketflow', password: process.env.KAFKA_SASL_PASSWORD! },
 *   tls: true,
 * });
 * ```
 */
export function kafkaSource(options: KafkaSourceOptions): KafkaSource {
  const connection = librdkafkaConfig(options);
  const brokers = String(connection['bootstrap.servers']);
  const topic = options.topic;
  if (!topic || /[^a-zA-Z0-9._-]/.test(topic)) {
    throw new InvalidOptionError(`topic must be a Kafka topic name, got ${JSON.stringify(topic)}`);
  }
  const groupId = options.groupId ?? 'ticketflow';
  const batchSize = options.batchSize ?? 5000;
  const emit = options.onEvent ?? (() => {});
  let consumer: KafkaConsumer | undefined;
  let assigned: TopicPartition[] = [];
  let isConnected = false;
  const nextOffset = new Map<number, number>();
  let startAt: Positions = {};
  let acknowledged: Positions = {};

  const source: KafkaSource = {
    name: `kafka:${topic}`,
    lag() {
      if (consumer === undefined) return [];
      const out: PartitionLag[] = [];
      for (const { partition } of assigned) {
        try {
          const { highOffset, lowOffset } = consumer.getWatermarkOffsets(topic, partition);
          // Nothing read from the partition yet: the checkpoint's position, or none left in an empty one.
          const next =
            nextOffset.get(partition) ??
            startAt[laneOf(topic, partition)] ??
            (highOffset >= 0 && highOffset === lowOffset ? highOffset : undefined);
          if (highOffset >= 0 && next !== undefined)
            out.push({ partition, lag: Math.max(0, highOffset - next) });
        } catch {
          // No fetch response for the partition yet: no lag to report.
        }
      }
      return out.sort((a, b) => a.partition - b.partition);
    },
    connected: () => isConnected,
    open(context: SourceContext) {
      startAt = context.startAt;
      return new Observable<RecordChunk<KafkaRecord>>((subscriber) => {
        const Kafka = kafkaModule();
        let stopped = false;
        let paused = false;
        let revoking = false;
        let client: KafkaConsumer;
        const fail = (error: unknown, what: string) => {
          if (stopped) return;
          stopped = true;
          subscriber.error(fromClientError(error, what, brokers));
        };

        acknowledged = context.startAt;
        // After a rebalance, partitions restart from the last acknowledged batch, not from where the run began.
        const startOf = (partition: number): number | undefined => acknowledged[laneOf(topic, partition)];
        const rebalance = (error: LibrdKafkaError, assignment: TopicPartition[]) => {
          const c = client;
          if (error.code === RDKAFKA.ASSIGN_PARTITIONS) {
            const withOffsets = assignment.map((tp) => {
              const start = startOf(tp.partition);
              return start === undefined
                ? { topic: tp.topic, partition: tp.partition }
                : { ...tp, offset: start };
            });
            assigned = assignment.map((tp) => ({ topic: tp.topic, partition: tp.partition }));
            c.assign(withOffsets);
            emit({
              level: 'info',
              message: `assigned ${topic} partitions [${assignment.map((tp) => tp.partition).join(', ')}]`,
            });
          } else if (error.code === RDKAFKA.REVOKE_PARTITIONS) {
            if (stopped) {
              // The run is over and its last batch committed: nothing is open to write.
              assigned = [];
              c.unassign();
              return;
            }
            revoking = true;
            emit({ level: 'info', message: `revoking ${topic} partitions: writing the open batch first` });
            context.flush().then(
              () => {
                revoking = false;
                assigned = [];
                nextOffset.clear();
                c.unassign();
              },
              (flushError: unknown) =>
                fail(flushError, `writing the open batch before a rebalance of ${topic}`),
            );
          } else {
            emit({ level: 'warn', message: `rebalance of ${topic}: ${error.message}` });
          }
        };

        const config: Record<string, unknown> = {
          ...connection,
          'group.id': groupId,
          'enable.auto.commit': false,
          'enable.auto.offset.store': false,
          'allow.auto.create.topics': false,
          'session.timeout.ms': options.sessionTimeoutMs ?? 10_000,
          'heartbeat.interval.ms': Math.max(500, Math.floor((options.sessionTimeoutMs ?? 10_000) / 5)),
          'max.poll.interval.ms': 300_000,
          rebalance_cb: rebalance,
          ...(options.instanceId ? { 'group.instance.id': options.instanceId } : {}),
        };
        // The reset policy is a topic setting: given in the global settings, an explicit topic config drops it.
        const c: KafkaConsumer = new Kafka.KafkaConsumer(config as never, {
          'auto.offset.reset': options.startFrom ?? 'earliest',
        });
        consumer = c;
        client = c;
        c.on('event.error', (error: LibrdKafkaError) => {
          if (isAuthenticationError(error)) {
            fail(error, `consuming ${topic}`);
            return;
          }
          if (error.code === RDKAFKA.ALL_BROKERS_DOWN) isConnected = false;
          if (error.isFatal) fail(error, `consuming ${topic}`);
          else emit({ level: 'warn', message: `kafka: ${error.message}` });
        });

        const onChunk = (messages: Message[]) => {
          let i = 0;
          while (i < messages.length) {
            const partition = (messages[i] as Message).partition;
            // The client's messages are the records: value bytes, key and headers as they came.
            const values: KafkaRecord[] = [];
            const offsets: number[] = [];
            while (i < messages.length && (messages[i] as Message).partition === partition) {
              const m = messages[i] as Message;
              values.push(m as KafkaRecord);
              offsets.push(m.offset);
              i++;
            }
            nextOffset.set(partition, (offsets[offsets.length - 1] as number) + 1);
            subscriber.next({ lane: laneOf(topic, partition), values, offsets });
          }
        };

        let probing = false;
        let lastProbe = 0;
        // Once the brokers were lost, asks them for the topic's metadata (at most every 2 s) to see them back.
        const probe = () => {
          if (probing || stopped || Date.now() - lastProbe < 2_000) return;
          probing = true;
          lastProbe = Date.now();
          c.getMetadata({ topic, timeout: 2_000 }, (error) => {
            probing = false;
            if (!error && !stopped) isConnected = true;
          });
        };

        const poll = () => {
          if (stopped) return;
          if (paused || revoking) {
            setTimeout(poll, 20);
            return;
          }
          c.consume(batchSize, (error, messages) => {
            if (stopped) return;
            if (error) {
              if (isAuthenticationError(error) || error.isFatal) {
                fail(error, `consuming ${topic}`);
                return;
              }
              emit({ level: 'warn', message: `kafka: ${error.message}` });
              setTimeout(poll, 200);
              return;
            }
            // An empty poll also returns while every broker is down: only messages or a probe prove a connection.
            if (messages.length > 0) {
              isConnected = true;
              onChunk(messages);
            } else if (!isConnected) probe();
            setImmediate(poll);
          });
        };

        const pressure = context.pressure.subscribe((value) => {
          paused = value;
        });
        const stop = () => {
          if (stopped) return;
          stopped = true;
          subscriber.complete();
        };
        context.signal.addEventListener('abort', stop, { once: true });

        (async () => {
          await connectClient(c, brokers, options.connectTimeoutMs ?? 15_000, `connecting to ${brokers}`);
          isConnected = true;
          const metadata = await call<{ topics: Array<{ name: string; partitions: unknown[] }> }>((cb) =>
            c.getMetadata({ topic, timeout: 10_000 }, cb as never),
          );
          const found = metadata.topics.find((t) => t.name === topic);
          if (found === undefined || found.partitions.length === 0) {
            throw new TicketflowError(
              'TOPIC_NOT_FOUND',
              `topic ${JSON.stringify(topic)} does not exist on ${brokers}`,
            );
          }
          c.setDefaultConsumeTimeout(100);
          c.subscribe([topic]);
          emit({ level: 'info', message: `subscribed to ${topic} as group ${groupId}` });
          poll();
        })().catch((error: unknown) => fail(error, `opening ${topic}`));

        return () => {
          stopped = true;
          pressure.unsubscribe();
          context.signal.removeEventListener('abort', stop);
        };
      });
    },
    async acknowledge(_range, positions: Positions) {
      acknowledged = positions;
      const c = consumer;
      if (c === undefined) return;
      const commits = assigned
        .map(({ partition }) => ({ topic, partition, offset: positions[laneOf(topic, partition)] }))
        .filter((tp): tp is { topic: string; partition: number; offset: number } => tp.offset !== undefined);
      if (commits.length === 0) return;
      try {
        c.commitSync(commits);
      } catch (error) {
        // The checkpoint already holds these positions: a failed commit only delays the group's view.
        emit({ level: 'warn', message: `cannot commit offsets of ${topic}: ${(error as Error).message}` });
      }
    },
    async close() {
      const c = consumer;
      consumer = undefined;
      isConnected = false;
      if (c === undefined) return;
      await new Promise<void>((resolve) => {
        try {
          c.disconnect(() => resolve());
        } catch {
          resolve();
        }
      });
    },
  };
  return source;
}
