import type { KafkaConsumer, LibrdKafkaError, Message, TopicPartition } from '@confluentinc/kafka-javascript';
import {
  type DataGap,
  InvalidOptionError,
  type Positions,
  type RecordChunk,
  type Source,
  type SourceContext,
  TicketflowError,
} from '@ticketflow/core';
import { distinctUntilChanged, map, Observable, timer } from 'rxjs';
import { call, connectClient, kafkaModule } from './client';
import { type KafkaConnectionOptions, librdkafkaConfig } from './connection';
import { dedupeEvents } from './dedupe-events';
import { fromClientError, isAuthenticationError, RDKAFKA } from './kafka-errors';
import type { KafkaRecord } from './kafka-record';
import { decideStart, describeGap, type StartDecision } from './start-position';

/** A message the source reports about itself: connection trouble, rebalances, positions. */
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
  /**
   * Where a new group starts: `'earliest'` (default) or `'latest'`. It decides only where a group with no
   * position for the topic starts: a partition added to the topic later, or one that a running group has
   * no committed offset for, is read from its beginning. With `'latest'`, the log end offsets are
   * committed for the group as soon as its partitions are assigned, so the decision is taken once.
   */
  readonly startFrom?: 'earliest' | 'latest';
  /**
   * What to do when records the processor should read next are gone (deleted by retention or
   * `DeleteRecords` before they were read), detected at each assignment (the checkpoint's or the group's
   * position below the partition's log start offset) and while running:
   *
   * - `'fail'` (default): stop before reading past the gap: the run fails with a `DATA_LOSS`
   *   {@link TicketflowError} naming the topic, partition, expected and first available offsets and the
   *   number of records lost.
   * - `'continue'`: a `warn` event with the same facts, reading goes on from the log start offset, and the
   *   gap is recorded in the range of the batch holding the partition's next record (see `DataGap`).
   */
  readonly onDataLoss?: 'fail' | 'continue';
  /**
   * A stable id of this processor for static group membership: a restarted processor with the same id
   * gets its partitions back at once instead of after the session timeout. Default: none (dynamic).
   */
  readonly instanceId?: string;
  /** How long the group waits for a silent member before reassigning its partitions, in ms. Default 10 000. */
  readonly sessionTimeoutMs?: number;
  /**
   * Messages handed over per poll, at most. Default 5 000. On a pre-filled topic, 1 000 and 5 000 drained
   * at the same rate; 20 000 and 50 000 drained 5 % and 20 % slower and held more memory (a poll's
   * messages are all in memory at once: the loop's maximum RSS was 142, 179, 257 and 463 MB).
   */
  readonly batchSize?: number;
  /**
   * How long a poll waits for the first message when none is ready, in ms. A poll returns the messages
   * already fetched without waiting for more, so a low rate never delays records. Default 100.
   */
  readonly pollTimeoutMs?: number;
  /**
   * How long the topic may be missing from the brokers' metadata (deleted while being read) before the
   * run fails with `TOPIC_NOT_FOUND`, in ms; the open batch is written first. Default 5 000.
   */
  readonly missingTopicGraceMs?: number;
  /**
   * How often the client refreshes the topic's metadata, in ms: partitions added to the topic are found
   * (and the group rebalanced) within about this time. Default 10 000 (librdkafka's own is 5 minutes).
   */
  readonly metadataRefreshMs?: number;
  /** How often `status$` samples the connection and the lag, in ms. Default 1000. */
  readonly statusIntervalMs?: number;
  /** Receives connection, rebalance and position events. Default: ignored. */
  readonly onEvent?: (event: KafkaSourceEvent) => void;
  /**
   * Which messages of transactional producers are read (librdkafka's `isolation.level`):
   * `'read_committed'` (librdkafka's default, used when absent) reads only committed transactions, and
   * `'read_uncommitted'` also reads messages of open and aborted ones.
   */
  readonly isolationLevel?: 'read_committed' | 'read_uncommitted';
  /**
   * How the group's offsets are committed once a batch is checkpointed:
   *
   * - `'commit'` (default): `acknowledge` commits them for the assigned partitions.
   * - `'transaction'`: `acknowledge` commits nothing (it still records the positions, for the next
   *   assignment); the offsets are committed by a Kafka transaction, through
   *   {@link KafkaSource.transactionConsumer} (see `kafkaPartials`).
   */
  readonly offsets?: 'commit' | 'transaction';
}

/** A partition's offset to commit, as the client takes it. */
export interface TopicPartitionOffset {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** The next offset to read. */
  readonly offset: number;
}

/** Lag of one partition: messages in the topic not read yet. */
export interface PartitionLag {
  /** The partition. */
  readonly partition: number;
  /** The log end offset (high watermark) minus the consumer's position; 0 once everything is read. */
  readonly lag: number;
}

/** A Kafka {@link Source}, with a view of its consumer lag. */
export interface KafkaSource extends Source<KafkaRecord> {
  /**
   * Lag per assigned partition: the log end offset (high watermark, from the client's latest fetch
   * responses) minus the consumer's position. The position is the client's when its last poll returned,
   * past the records handed to the engine (never past records a poll is still collecting): it moves past
   * transaction markers (control records), so a transactional topic read to its end has lag 0 although
   * the last committed offset is one below the log end. Before anything was read from a partition, the
   * position it was assigned at (its log start for a partition read from its beginning). A partition
   * without a fetch response yet is left out.
   */
  lag(): PartitionLag[];
  /**
   * True while the client reaches the brokers: false before the first connection and after the client
   * reports every broker down, true again once messages arrive or a metadata request succeeds.
   */
  connected(): boolean;
  /**
   * The live client consumer, for a transactional producer's `sendOffsetsToTransaction` (which needs
   * the consumer's group membership). Throws a one-line `SOURCE_FAILED` {@link TicketflowError} when the
   * source is not open.
   */
  transactionConsumer(): KafkaConsumer;
  /**
   * The offsets `acknowledge` would commit for `positions` (a batch's plan positions): for each
   * partition of the topic assigned to this member, its position, never behind where the current
   * assignment started, and for a partition not read in this run its earlier position. Empty when the
   * source is not open. Records nothing.
   */
  transactionOffsets(positions: Positions): TopicPartitionOffset[];
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

/** librdkafka's logical offset "the partition's beginning", resolved when it fetches. */
const OFFSET_BEGINNING = -2;
/** librdkafka's "no offset to reset to" (an out-of-range position with `auto.offset.reset: error`). */
const ERR_AUTO_OFFSET_RESET = -140;
/** How often the source checks that its topic exists and its positions are still in the log, in ms. */
const WATCH_INTERVAL_MS = 1_000;
/** How often the positions are compared with the log start offsets while running, in ms. */
const POSITION_CHECK_MS = 3_000;

/**
 * The librdkafka consumer settings {@link kafkaSource} sets, unless the `librdkafka` option gives its own
 * value for a key. Measured with a consume-only loop of the client on a pre-filled topic of 1 000 000
 * 240-byte records (6 partitions, the broker on the same 2-core machine): 112 000 records/s at
 * librdkafka's defaults, its JavaScript thread busy half of the time; 187 000/s with these settings,
 * that thread busy 96 % of the time (see `bench/kafka.bench.ts`).
 *
 * - `fetch.queue.backoff.ms`: 10 ms (librdkafka: 1 000). Once the prefetch queue holds
 *   `queued.min.messages`, librdkafka stops fetching and looks again only after this delay: with 1 s the
 *   queue ran empty in every cycle and the client waited for the next fetch. 10 ms keeps it filled; 0
 *   made the client's fetch thread spin (about 5 CPU-seconds per million records) and drained slower. A
 *   paused source, its queue full, costs about 1 ms of CPU per second with either value.
 * - `queued.min.messages`: 20 000 messages (librdkafka: 100 000). The queue is refilled below this count,
 *   taken over all the partitions of this consumer: with the short backoff, 20 000 drained as fast as
 *   100 000 and holds less memory.
 * - `queued.max.messages.kbytes`: 16 384 KiB (librdkafka: 65 536). The queue stops growing at 16 MiB of
 *   messages over all the partitions, overshot by at most one fetch (`fetch.message.max.bytes`, 1 MiB by
 *   default, per partition): the bound on prefetch memory, whatever the records' size. A processor
 *   draining the topic above reached a maximum RSS of 169-182 MB with these settings, 204-209 MB with
 *   librdkafka's (raising `queued.min.messages` to 1 000 000 instead took a loop to 421 MB).
 *
 * `fetch.wait.max.ms` (500 ms), `fetch.min.bytes` (1 byte) and `fetch.message.max.bytes` (1 MiB) stay
 * librdkafka's: records produced one by one at 10 a second were each handed over within a few ms (the
 * broker answers a fetch as soon as one byte is there), and larger fetches did not drain faster.
 */
export const KAFKA_CONSUMER_DEFAULTS: Readonly<Record<string, number>> = Object.freeze({
  'fetch.queue.backoff.ms': 10,
  'queued.min.messages': 20_000,
  'queued.max.messages.kbytes': 16_384,
});

type Metadata = { topics: Array<{ name: string; partitions: unknown[] }> };
type Watermarks = { lowOffset: number; highOffset: number };

/**
 * Reads a Kafka or Redpanda topic in a consumer group, for the micro-batch engine.
 *
 * Auto-commit is off: offsets are committed explicitly, for each partition of a batch, only once the
 * engine has written and checkpointed the batch (with `offsets: 'transaction'`, by the batch's Kafka
 * transaction instead: see `kafkaPartials`). On every assignment (at start and after each
 * rebalance) each partition starts from the further of the checkpoint's position and the group's
 * committed offset (see `decideStart`), so a batch replayed after a crash covers the same records
 * unless another member of the group counted some of them meanwhile. Before partitions are revoked in
 * a rebalance, the open window is written and committed, so nothing read from them is lost or counted
 * twice. Reading pauses while batches wait for a slow sink.
 *
 * A position below the partition's log start offset (records deleted before they were read) is a data
 * loss: see {@link KafkaSourceOptions.onDataLoss}. `auto.offset.reset` is `error`, so a position that falls
 * out of the log while running is caught too, never silently reset. A topic deleted while it is read
 * fails the run with `TOPIC_NOT_FOUND` after {@link KafkaSourceOptions.missingTopicGraceMs}.
 *
 * The consumer's prefetch settings are {@link KAFKA_CONSUMER_DEFAULTS} (a queue kept filled, at most
 * 16 MiB of prefetched messages); the `librdkafka` option overrides any of them. A poll waits
 * {@link KafkaSourceOptions.pollTimeoutMs} for its first message only and returns what is already
 * fetched, so records produced one by one are handed over as they arrive.
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
  const onDataLoss = options.onDataLoss ?? 'fail';
  if (onDataLoss !== 'fail' && onDataLoss !== 'continue') {
    throw new InvalidOptionError(
      `onDataLoss must be 'fail' or 'continue', got ${JSON.stringify(onDataLoss)}`,
    );
  }
  const offsetsMode = options.offsets ?? 'commit';
  if (offsetsMode !== 'commit' && offsetsMode !== 'transaction') {
    throw new InvalidOptionError(
      `offsets must be 'commit' or 'transaction', got ${JSON.stringify(offsetsMode)}`,
    );
  }
  const isolationLevel = options.isolationLevel;
  if (
    isolationLevel !== undefined &&
    isolationLevel !== 'read_committed' &&
    isolationLevel !== 'read_uncommitted'
  ) {
    throw new InvalidOptionError(
      `isolationLevel must be 'read_committed' or 'read_uncommitted', got ${JSON.stringify(isolationLevel)}`,
    );
  }
  const pollTimeoutMs = options.pollTimeoutMs ?? 100;
  const missingTopicGraceMs = options.missingTopicGraceMs ?? 5_000;
  for (const [name, value] of [
    ['pollTimeoutMs', pollTimeoutMs],
    ['missingTopicGraceMs', missingTopicGraceMs],
    ['metadataRefreshMs', options.metadataRefreshMs ?? 10_000],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 2_147_483_647)
      throw new InvalidOptionError(`${name} must be a whole number of ms from 1, got ${value}`);
  }
  const groupId = options.groupId ?? 'ticketflow';
  const batchSize = options.batchSize ?? 5000;
  const emit = dedupeEvents<KafkaSourceEvent>(options.onEvent ?? (() => {}));
  let consumer: KafkaConsumer | undefined;
  let assigned: TopicPartition[] = [];
  let isConnected = false;
  /** Per partition, the next offset after the last message handed to the engine. */
  const nextOffset = new Map<number, number>();
  /** Per assigned partition, the offset it was assigned at (absent: its beginning, resolved by the client). */
  const assignedAt = new Map<number, number>();
  /** Per assigned partition, the client's position when the last poll returned (see `notePositions`). */
  const polledPosition = new Map<number, number>();
  /** Lanes this source has read records of during this run. */
  const readLanes = new Set<string>();
  let acknowledged: Positions = {};

  /** The positions to record (and commit) for a batch's plan positions. */
  const acknowledgedPositions = (positions: Positions): Positions => {
    const previous = acknowledged;
    const next: Record<string, number> = { ...positions };
    for (const [lane, offset] of Object.entries(positions)) {
      const parsed = parseLane(lane);
      if (parsed === undefined || parsed.topic !== topic) continue;
      // A replayed batch records positions for lanes this source did not read (given to another member):
      // it did not count those records, so it keeps its earlier position for them.
      let value = readLanes.has(lane) ? offset : (previous[lane] ?? offset);
      // Never behind where the current assignment started: the records below were counted by another
      // member or lost, and committing less would make the group read them again.
      const floor = assignedAt.get(parsed.partition);
      if (floor !== undefined && value < floor) value = floor;
      next[lane] = value;
    }
    return next;
  };
  /** The offsets to commit for the assigned partitions: none when the source is not open. */
  const commitsOf = (positions: Positions): TopicPartitionOffset[] =>
    consumer === undefined
      ? []
      : assigned
          .map(({ partition }) => ({ topic, partition, offset: positions[laneOf(topic, partition)] }))
          .filter((tp): tp is TopicPartitionOffset => tp.offset !== undefined);

  const source: KafkaSource = {
    name: `kafka:${topic}`,
    lag() {
      const c = consumer;
      if (c === undefined) return [];
      const out: PartitionLag[] = [];
      for (const { partition } of assigned) {
        try {
          const { highOffset, lowOffset } = c.getWatermarkOffsets(topic, partition);
          if (highOffset < 0) continue;
          // The client's position moves past transaction markers; our own count stops at the last message.
          const candidates = [
            polledPosition.get(partition),
            nextOffset.get(partition),
            assignedAt.get(partition),
          ].filter((n): n is number => n !== undefined);
          const next =
            candidates.length > 0 ? Math.max(...candidates) : lowOffset >= 0 ? lowOffset : undefined;
          if (next !== undefined) out.push({ partition, lag: Math.max(0, highOffset - next) });
        } catch {
          // No fetch response for the partition yet: no lag to report.
        }
      }
      return out.sort((a, b) => a.partition - b.partition);
    },
    connected: () => isConnected,
    status$: timer(0, options.statusIntervalMs ?? 1000).pipe(
      map(() => ({
        connected: isConnected,
        lag: source.lag().map(({ partition, lag }) => ({ lane: laneOf(topic, partition), lag })),
      })),
      distinctUntilChanged((a, b) => JSON.stringify(a) === JSON.stringify(b)),
    ),
    open(context: SourceContext) {
      return new Observable<RecordChunk<KafkaRecord>>((subscriber) => {
        const Kafka = kafkaModule();
        let stopped = false;
        let paused = false;
        let revoking = false;
        /** Bumped by every rebalance event: an assignment still being prepared for an older one is dropped. */
        let generation = 0;
        let client: KafkaConsumer;
        /** Partitions the topic had when the source opened; higher ones were added while it ran. */
        let initialPartitions = Number.POSITIVE_INFINITY;
        /** True when the group or the checkpoint had a position for the topic when the source opened. */
        let groupStarted = true;
        /** Accepted gaps, per partition, waiting for the partition's next record. */
        const pendingGaps = new Map<number, DataGap>();
        const fail = (error: unknown, what: string) => {
          if (stopped) return;
          stopped = true;
          subscriber.error(fromClientError(error, what, brokers));
        };

        acknowledged = context.startAt;
        const topicLanes = Object.keys(context.startAt).filter((lane) => parseLane(lane)?.topic === topic);

        const committedOffsets = async (partitions: number[]): Promise<Map<number, number>> => {
          const result = await call<Array<{ partition: number; offset?: number }>>((cb) =>
            client.committed(
              partitions.map((partition) => ({ topic, partition })),
              10_000,
              cb as never,
            ),
          );
          const out = new Map<number, number>();
          for (const tp of result)
            if (typeof tp.offset === 'number' && tp.offset >= 0) out.set(tp.partition, tp.offset);
          return out;
        };
        const watermarks = (partition: number): Promise<Watermarks> =>
          call<Watermarks>((cb) => client.queryWatermarkOffsets(topic, partition, 10_000, cb as never));

        const dataLossError = (partition: number, gap: DataGap, more: number) =>
          new TicketflowError(
            'DATA_LOSS',
            `${describeGap(topic, partition, gap)}${more > 0 ? ` (and ${more} more partitions)` : ''}; stopped before reading past the gap: accept the loss with --on-data-loss continue (onDataLoss: 'continue')`,
          );
        const pastEndError = (partition: number, expected: number, logEnd: number) =>
          new TicketflowError(
            'DATA_LOSS',
            `${topic} partition ${partition}: the position to resume from, offset ${expected}, is past the log end offset ${logEnd}: the topic was recreated or truncated since, so its records cannot be matched to the checkpoint; start with a new output (or checkpoint) and group`,
          );

        // Decides every partition's start (checkpoint, group, policy, log start), then assigns them.
        const assign = async (assignment: TopicPartition[], gen: number) => {
          const partitions = assignment.map((tp) => tp.partition);
          const [group, marks] = await Promise.all([
            committedOffsets(partitions),
            Promise.all(partitions.map((p) => watermarks(p))),
          ]);
          if (gen !== generation || stopped) return;
          const decisions = new Map<number, StartDecision>();
          partitions.forEach((partition, i) => {
            const lane = laneOf(topic, partition);
            const { lowOffset, highOffset } = marks[i] as Watermarks;
            decisions.set(
              partition,
              decideStart(
                {
                  partition,
                  checkpoint: acknowledged[lane],
                  group: group.get(partition),
                  logStart: lowOffset,
                  logEnd: highOffset,
                  added: partition >= initialPartitions,
                },
                { topic, groupId, startFrom: options.startFrom ?? 'earliest', groupStarted },
              ),
            );
          });
          for (const d of decisions.values()) for (const note of d.notes) emit(note);
          const pastEnd = [...decisions].find(([, d]) => d.pastEnd);
          if (pastEnd !== undefined) {
            const [partition, d] = pastEnd;
            const i = partitions.indexOf(partition);
            throw pastEndError(partition, d.offset as number, (marks[i] as Watermarks).highOffset);
          }
          const gaps = [...decisions].filter(([, d]) => d.gap !== undefined);
          const [first] = gaps;
          if (first !== undefined && onDataLoss === 'fail') {
            throw dataLossError(first[0], first[1].gap as DataGap, gaps.length - 1);
          }
          for (const [partition, d] of gaps) {
            const gap = d.gap as DataGap;
            emit({
              level: 'warn',
              message: `${describeGap(topic, partition, gap)}; going on from offset ${gap.firstAvailable} (on data loss: continue); the loss is recorded with the next batch`,
            });
            pendingGaps.set(partition, gap);
          }
          assignedAt.clear();
          polledPosition.clear();
          const withOffsets = partitions.map((partition) => {
            const d = decisions.get(partition) as StartDecision;
            if (d.offset === 'beginning') return { topic, partition, offset: OFFSET_BEGINNING };
            assignedAt.set(partition, d.offset);
            return { topic, partition, offset: d.offset };
          });
          assigned = partitions.map((partition) => ({ topic, partition }));
          client.assign(withOffsets);
          const commitNow = withOffsets.filter((tp) => decisions.get(tp.partition)?.commitNow);
          if (commitNow.length > 0) {
            try {
              client.commitSync(commitNow);
            } catch (error) {
              emit({
                level: 'warn',
                message: `cannot commit the start offsets of ${topic}: ${(error as Error).message}`,
              });
            }
          }
          emit({ level: 'info', message: `assigned ${topic} partitions [${partitions.join(', ')}]` });
          // Tell the engine where each lane stands, so that a replayed batch does not wait for records
          // another member counted (a start past its range) or that this member no longer reads.
          for (const [partition, offset] of assignedAt) {
            subscriber.next({ lane: laneOf(topic, partition), values: [], offsets: [], position: offset });
          }
          const mine = new Set(partitions.map((p) => laneOf(topic, p)));
          for (const lane of topicLanes) {
            if (!mine.has(lane))
              subscriber.next({ lane, values: [], offsets: [], position: Number.POSITIVE_INFINITY });
          }
        };

        const rebalance = (error: LibrdKafkaError, assignment: TopicPartition[]) => {
          const c = client;
          generation += 1;
          if (error.code === RDKAFKA.ASSIGN_PARTITIONS) {
            const gen = generation;
            assign(assignment, gen).catch((assignError: unknown) =>
              fail(assignError, `assigning partitions of ${topic}`),
            );
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
                assignedAt.clear();
                polledPosition.clear();
                pendingGaps.clear();
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
          // Partitions added to the topic are found within this time, not librdkafka's 5 minutes.
          'topic.metadata.refresh.interval.ms': options.metadataRefreshMs ?? 10_000,
          // Keep the prefetch queue filled within a bounded memory (see KAFKA_CONSUMER_DEFAULTS).
          ...KAFKA_CONSUMER_DEFAULTS,
          ...connection,
          'group.id': groupId,
          'enable.auto.commit': false,
          'enable.auto.offset.store': false,
          'allow.auto.create.topics': false,
          'session.timeout.ms': options.sessionTimeoutMs ?? 10_000,
          'heartbeat.interval.ms': Math.max(500, Math.floor((options.sessionTimeoutMs ?? 10_000) / 5)),
          'max.poll.interval.ms': 300_000,
          rebalance_cb: rebalance,
          ...(isolationLevel ? { 'isolation.level': isolationLevel } : {}),
          ...(options.instanceId ? { 'group.instance.id': options.instanceId } : {}),
        };
        // Every partition is assigned an explicit position, so the reset policy only acts when a position
        // falls out of the log while running: `error` makes that a data loss to report, never a silent
        // jump. It is a topic setting: given in the global settings, an explicit topic config drops it.
        const c: KafkaConsumer = new Kafka.KafkaConsumer(config as never, { 'auto.offset.reset': 'error' });
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
            const lane = laneOf(topic, partition);
            readLanes.add(lane);
            const gap = pendingGaps.get(partition);
            pendingGaps.delete(partition);
            subscriber.next(gap === undefined ? { lane, values, offsets } : { lane, values, offsets, gap });
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

        // Watches the topic's existence and the positions against the log while running.
        let missingSince: number | undefined;
        let watching = false;
        let lastPositionCheck = 0;
        /** Per partition, a position below the log start seen at the last check. */
        let belowStart: Map<number, number> = new Map();
        /** Reading paused since the last check: positions standing still then prove nothing. */
        let pausedSinceCheck = false;
        const topicGone = async () => {
          emit({
            level: 'warn',
            message: `topic ${topic} no longer exists on ${brokers}: writing the open batch, then stopping`,
          });
          await context.flush().catch(() => undefined);
          fail(
            new TicketflowError(
              'TOPIC_NOT_FOUND',
              `topic ${JSON.stringify(topic)} was deleted from ${brokers} while it was being read (missing for ${missingTopicGraceMs / 1000} s); the batches written so far are committed: recreate the topic and start with a new output and group, or stop this processor`,
            ),
            `consuming ${topic}`,
          );
        };
        const checkPositions = async () => {
          // A partition is stuck in a gap when its position, unchanged since the last check while
          // reading, is below its log start: the client stopped there (auto.offset.reset is error).
          const previous = belowStart;
          const now = new Map<number, number>();
          for (const { partition } of [...assigned]) {
            const position = nextOffset.get(partition) ?? assignedAt.get(partition);
            if (position === undefined) continue;
            // A failed query (brokers away, topic being deleted) proves nothing: check again later.
            const marks = await watermarks(partition).catch(() => undefined);
            if (marks === undefined) {
              belowStart = new Map();
              return;
            }
            const { lowOffset, highOffset } = marks;
            if (
              stopped ||
              revoking ||
              pausedSinceCheck ||
              !assigned.some((tp) => tp.partition === partition)
            ) {
              belowStart = new Map();
              return;
            }
            if (position > highOffset) throw pastEndError(partition, position, highOffset);
            if (position >= lowOffset) continue;
            if (previous.get(partition) !== position) {
              now.set(partition, position);
              continue;
            }
            const gap: DataGap = {
              expected: position,
              firstAvailable: lowOffset,
              lost: lowOffset - position,
            };
            if (onDataLoss === 'fail') throw dataLossError(partition, gap, 0);
            emit({
              level: 'warn',
              message: `${describeGap(topic, partition, gap)}; going on from offset ${lowOffset} (on data loss: continue); the loss is recorded with the next batch`,
            });
            pendingGaps.set(partition, gap);
            assignedAt.set(partition, lowOffset);
            nextOffset.delete(partition);
            polledPosition.delete(partition);
            // Re-assigning at the positions already read restarts the stopped partition, and only it moves.
            c.assign(
              assigned.map((tp) => {
                const at =
                  tp.partition === partition
                    ? lowOffset
                    : (nextOffset.get(tp.partition) ?? assignedAt.get(tp.partition));
                return { topic, partition: tp.partition, offset: at ?? OFFSET_BEGINNING };
              }),
            );
          }
          belowStart = now;
        };
        const watch = async () => {
          const metadata = await call<Metadata>((cb) =>
            c.getMetadata({ topic, timeout: 2_000 }, cb as never),
          ).catch(() => undefined);
          if (stopped) return;
          if (metadata !== undefined) {
            const found = metadata.topics.find((t) => t.name === topic);
            if (found === undefined || found.partitions.length === 0) {
              missingSince ??= Date.now();
              if (Date.now() - missingSince >= missingTopicGraceMs) {
                await topicGone();
                return;
              }
            } else missingSince = undefined;
          }
          if (missingSince === undefined && Date.now() - lastPositionCheck >= POSITION_CHECK_MS) {
            lastPositionCheck = Date.now();
            if (paused || revoking || pausedSinceCheck) {
              pausedSinceCheck = false;
              belowStart = new Map();
            } else await checkPositions();
          }
        };
        const watcher = setInterval(() => {
          if (watching || stopped) return;
          watching = true;
          watch()
            .catch((error: unknown) => fail(error, `checking the positions of ${topic}`))
            .finally(() => {
              watching = false;
            });
        }, WATCH_INTERVAL_MS);
        watcher.unref?.();

        // The client's positions once a poll has returned and before the next starts: past the records
        // handed over and any transaction markers after them (a poll in flight moves the client's own
        // position past records not handed over yet).
        const notePositions = () => {
          try {
            for (const tp of c.position(assigned)) {
              if (typeof tp.offset === 'number' && tp.offset >= 0)
                polledPosition.set(tp.partition, tp.offset);
            }
          } catch {
            // No position yet (being assigned): the next poll notes it.
          }
        };

        const poll = () => {
          if (stopped) return;
          if (paused || revoking) {
            pausedSinceCheck = true;
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
              // An out-of-range position: the position check reports it with its partition and offsets.
              if (error.code !== ERR_AUTO_OFFSET_RESET)
                emit({ level: 'warn', message: `kafka: reading ${topic}: ${error.message}` });
              setTimeout(poll, 200);
              return;
            }
            notePositions();
            // An empty poll also returns while every broker is down: only messages or a probe prove a connection.
            if (messages.length > 0) {
              isConnected = true;
              onChunk(messages);
            } else if (!isConnected) probe();
            // The next poll only once these records are handed over: a poll started earlier could
            // return records of partitions that a rebalance gives away meanwhile, after their flush.
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
          const metadata = await call<Metadata>((cb) =>
            c.getMetadata({ topic, timeout: 10_000 }, cb as never),
          );
          const found = metadata.topics.find((t) => t.name === topic);
          if (found === undefined || found.partitions.length === 0) {
            throw new TicketflowError(
              'TOPIC_NOT_FOUND',
              `topic ${JSON.stringify(topic)} does not exist on ${brokers}`,
            );
          }
          initialPartitions = found.partitions.length;
          if (options.startFrom === 'latest') {
            // `latest` is for a new group only: one with a committed offset, or a checkpoint, has started.
            const all = Array.from({ length: initialPartitions }, (_, p) => p);
            groupStarted = topicLanes.length > 0 || (await committedOffsets(all)).size > 0;
          }
          c.setDefaultConsumeTimeout(pollTimeoutMs);
          // Wait for the first message only: by default the client waits up to the timeout for each of
          // the batch's messages, which holds records back for seconds at a low rate.
          (
            c as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void }
          ).setDefaultIsTimeoutOnlyForFirstMessage(true);
          c.subscribe([topic]);
          emit({ level: 'info', message: `subscribed to ${topic} as group ${groupId}` });
          poll();
        })().catch((error: unknown) => fail(error, `opening ${topic}`));

        return () => {
          stopped = true;
          clearInterval(watcher);
          pressure.unsubscribe();
          context.signal.removeEventListener('abort', stop);
        };
      });
    },
    transactionConsumer() {
      const c = consumer;
      if (c === undefined) {
        throw new TicketflowError(
          'SOURCE_FAILED',
          `the Kafka source of ${topic} is not open: no consumer to commit offsets in a transaction with`,
        );
      }
      return c;
    },
    transactionOffsets(positions: Positions) {
      return commitsOf(acknowledgedPositions(positions));
    },
    async acknowledge(_range, positions: Positions) {
      const next = acknowledgedPositions(positions);
      acknowledged = next;
      // With offsets: 'transaction' the transaction committed them with the batch's output.
      if (offsetsMode === 'transaction') return;
      const c = consumer;
      if (c === undefined) return;
      const commits = commitsOf(next);
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
