import type { DeliveryReport, LibrdKafkaError, Producer } from '@confluentinc/kafka-javascript';
import {
  type Batch,
  type BatchPlan,
  type CheckpointState,
  type CheckpointStore,
  type DeadLetter,
  type DeadLetterHandler,
  describeValue,
  firstLine,
  type InputRange,
  InvalidOptionError,
  type Sink,
  TicketflowError,
} from '@ticketflow/core';
import { call, connectClient, kafkaModule } from './client';
import { type KafkaConnectionOptions, librdkafkaConfig } from './connection';
import { isTooLarge, type Letter, letterOf, MIN_DEAD_LETTER_BYTES, messageOf } from './dead-letter-topic';
import { clientErrorCode, fromClientError, isAuthorizationError, RDKAFKA } from './kafka-errors';
import type { KafkaRecord } from './kafka-record';
import type { KafkaSource } from './kafka-source';
import { bytesOf, clientHeaders } from './producer';

/** Options of {@link kafkaPartials}. */
export interface KafkaPartialsOptions extends KafkaConnectionOptions {
  /** The topic the partial aggregates go to, such as `client_tickets.partials`. It must exist: it is never created. */
  readonly partialsTopic: string;
  /** The dead-letter topic, such as `client_tickets.dlq`. It must exist: it is never created. */
  readonly deadLetterTopic: string;
  /**
   * The producer's `transactional.id`: stable for one processor across restarts (a restarted processor
   * fences its former self), distinct between the processors sharing a topic. Never random.
   */
  readonly transactionalId: string;
  /**
   * The source whose offsets each transaction commits: a {@link KafkaSource} opened with
   * `offsets: 'transaction'` (its {@link KafkaSource.transactionConsumer} and
   * {@link KafkaSource.transactionOffsets}).
   */
  readonly source: Pick<KafkaSource, 'transactionConsumer' | 'transactionOffsets'>;
  /**
   * How long a transaction may stay open before the brokers abort it, in ms (librdkafka's
   * `transaction.timeout.ms`; at most the brokers' `transaction.max.timeout.ms`, 900 000 by default).
   * Keep it well above a micro-batch's window. Default 60 000.
   */
  readonly transactionTimeoutMs?: number;
  /**
   * The largest dead letter, in bytes; a larger one is cut to fit as {@link kafkaDeadLetters} does.
   * Default 1 000 000. Keep it at or below the dead-letter topic's `max.message.bytes`: in a
   * transaction a letter refused by the brokers fails the batch.
   */
  readonly maxMessageBytes?: number;
  /** Receives client warnings, one line each. Default: ignored. */
  readonly onWarning?: (message: string) => void;
}

/** What {@link kafkaPartials} returns: a checkpoint, a sink and dead letters sharing one Kafka transaction per batch. */
export interface KafkaPartials {
  /**
   * The checkpoint: `load` connects (and fences an older producer with the same transactional id) and
   * resumes from the group's committed offsets (`{ nextBatchId: 0, positions: {} }`), `begin` opens the
   * batch's transaction, `commit` adds the batch's offsets to it and commits it.
   */
  readonly checkpoint: CheckpointStore;
  /** Produces each batch's `partial` (JSON text, keyed by the transactional id) in the open transaction. */
  readonly sink: Sink<unknown>;
  /** Produces the batch's dead letters (as {@link kafkaDeadLetters} writes them) in the open transaction. */
  readonly deadLetters: DeadLetterHandler<KafkaRecord>;
  /** Aborts an open transaction and disconnects the producer. */
  close(): Promise<void>;
}

/** librdkafka codes of a fenced transactional producer, and of related transaction failures. */
const TXN = {
  FENCED: -144,
  FATAL: -150,
  UNSUPPORTED_FEATURE: -165,
  STATE: -172,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  UNSUPPORTED_VERSION: 35,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_TXN_STATE: 48,
  INVALID_TRANSACTION_TIMEOUT: 50,
  TRANSACTION_COORDINATOR_FENCED: 52,
  PRODUCER_FENCED: 90,
  REQUEST_TIMED_OUT: 7,
} as const;

/** How long one transactional call (init, offsets, commit, abort) may take, in ms. */
const CALL_TIMEOUT_MS = 30_000;

type Metadata = { topics: Array<{ name: string; partitions: unknown[] }> };
type Delivered = (error: LibrdKafkaError | null) => void;

/**
 * Kafka transactions for the partial stage of a scaled-out pipeline (`createPipeline({ stage: 'partial' })`):
 * ONE transactional producer (`transactional.id`, idempotent, `acks=all`) behind a checkpoint, a sink
 * and a dead-letter handler, so that each micro-batch's partial aggregate, its dead letters and its
 * consumed offsets become visible together (to `read_committed` readers and to the consumer group), or
 * not at all.
 *
 * Per batch, in the engine's order: `checkpoint.begin` → `beginTransaction`; `deadLetters.flush` →
 * produces the letters of the batch's range (value bytes, key, headers, then `reason` and
 * `original_*` headers, cut to `maxMessageBytes` with `truncated`/`original_size`) and waits for their
 * delivery; `sink.write` → produces `JSON.stringify(batch.partial)` to `partialsTopic` and waits for its
 * delivery; `checkpoint.commit` → `sendOffsetsToTransaction` with the plan's positions for the
 * partitions assigned to the source's consumer, then `commitTransaction`. The source's `acknowledge`
 * then commits nothing (`offsets: 'transaction'`).
 *
 * Any failure aborts the open transaction and rejects with a one-line, non-retriable
 * {@link TicketflowError}, so that the run fails and the next one reads again from the group's
 * committed offsets (nothing lost, nothing twice):
 * - `CHECKPOINT_CONFLICT`: another producer with the same transactional id started (this one is fenced);
 * - `TOPIC_NOT_FOUND`: the partials or dead-letter topic does not exist (checked by `load`);
 * - `CHECKPOINT_FAILED`: the brokers do not support transactions or have no transaction coordinator,
 *   the transaction ran past `transactionTimeoutMs`, or another transactional failure;
 * - `SINK_FAILED`: a batch without `partial`, or a message the brokers refused;
 * - `AUTHENTICATION_FAILED`, `BROKER_UNREACHABLE`: as for the other Kafka clients.
 *
 * @example
 * ```ts
 * const source = kafkaSource({ brokers: '127.0.0.1:9092', topic: 'client_tickets', offsets: 'transaction' });
 * const partials = kafkaPartials({
 *   brokers: '127.0.0.1:9092',
 *   partialsTopic: 'client_tickets.partials',
 *   deadLetterTopic: 'client_tickets.dlq',
 *   transactionalId: 'ticketflow-partial-ticketflow-worker-1',
 *   source,
 * });
 * // createPipeline({ source, stage: 'partial', checkpoint: partials.checkpoint, sink: partials.sink,
 * //   deadLetters: partials.deadLetters, ... }), then: await partials.close();
 * ```
 */
export function kafkaPartials(options: KafkaPartialsOptions): KafkaPartials {
  const connection = librdkafkaConfig(options);
  const brokers = String(connection['bootstrap.servers']);
  const { partialsTopic, deadLetterTopic, transactionalId, source } = options;
  for (const [name, value] of [
    ['partialsTopic', partialsTopic],
    ['deadLetterTopic', deadLetterTopic],
  ] as const) {
    if (!value || /[^a-zA-Z0-9._-]/.test(value))
      throw new InvalidOptionError(`${name} must be a Kafka topic name, got ${JSON.stringify(value)}`);
  }
  if (typeof transactionalId !== 'string' || transactionalId.trim() === '')
    throw new InvalidOptionError('transactionalId must be a non-empty, stable id of this processor');
  const transactionTimeoutMs = options.transactionTimeoutMs ?? 60_000;
  if (
    !Number.isInteger(transactionTimeoutMs) ||
    transactionTimeoutMs < 1_000 ||
    transactionTimeoutMs > 2_147_483_647
  )
    throw new InvalidOptionError(
      `transactionTimeoutMs must be a whole number of ms from 1000, got ${transactionTimeoutMs}`,
    );
  const maxBytes = options.maxMessageBytes ?? 1_000_000;
  if (!Number.isInteger(maxBytes) || maxBytes < MIN_DEAD_LETTER_BYTES)
    throw new InvalidOptionError(
      `maxMessageBytes must be an integer of at least ${MIN_DEAD_LETTER_BYTES}, got ${maxBytes}`,
    );
  const id = JSON.stringify(transactionalId);

  let producer: Producer | undefined;
  let connecting: Promise<Producer> | undefined;
  /** The fatal error the client reported (a fenced producer): nothing can be done with it any more. */
  let fatal: LibrdKafkaError | undefined;
  /** The open transaction: its batch, range and start time. */
  let open: { batchId: number; range: InputRange; since: number } | undefined;
  /** Letters written and not yet produced. */
  let queue: Letter[] = [];
  let closed = false;

  const fenced = (cause?: unknown) =>
    new TicketflowError(
      'CHECKPOINT_CONFLICT',
      `another processor with transactional id ${id} took over; this one stops`,
      { cause, retriable: false, fatal: true },
    );
  const isFenceCode = (code: number | undefined, isFatal: boolean) =>
    code === TXN.FENCED ||
    code === TXN.PRODUCER_FENCED ||
    code === TXN.TRANSACTION_COORDINATOR_FENCED ||
    (code === TXN.INVALID_PRODUCER_EPOCH && isFatal);

  /** The one-line error of a client failure while `what`. */
  const wrap = (error: unknown, what: string): TicketflowError => {
    if (error instanceof TicketflowError) return error;
    const e = (typeof error === 'object' && error !== null ? error : {}) as Partial<LibrdKafkaError> & {
      isTxnRequiresAbort?: boolean;
    };
    const code = clientErrorCode(error);
    const isFatal = e.isFatal === true;
    if (isFenceCode(code, isFatal) || (fatal !== undefined && isFenceCode(fatal.code, true)))
      return fenced(error);
    const detail = firstLine(e.message ?? describeValue(error));
    const flags = { cause: error, retriable: false };
    if (code === RDKAFKA.UNKNOWN_TOPIC || code === RDKAFKA.UNKNOWN_TOPIC_OR_PART)
      return new TicketflowError('TOPIC_NOT_FOUND', `${what}: ${detail}`, flags);
    if (isAuthorizationError(error))
      return new TicketflowError(
        'AUTHENTICATION_FAILED',
        `${what}: the brokers at ${brokers} refuse this client (grant it WRITE on ${partialsTopic} and ${deadLetterTopic}, and WRITE/DESCRIBE on transactional id ${id})`,
        { ...flags, fatal: true },
      );
    if (
      code === TXN.UNSUPPORTED_FEATURE ||
      code === TXN.UNSUPPORTED_VERSION ||
      code === TXN.COORDINATOR_NOT_AVAILABLE ||
      code === TXN.NOT_COORDINATOR
    )
      return new TicketflowError(
        'CHECKPOINT_FAILED',
        `${what}: the brokers at ${brokers} do not support Kafka transactions or have no transaction coordinator available (${detail}): enable transactions on the cluster`,
        flags,
      );
    if (code === TXN.INVALID_TRANSACTION_TIMEOUT)
      return new TicketflowError(
        'CHECKPOINT_FAILED',
        `${what}: the brokers refuse a transaction timeout of ${transactionTimeoutMs} ms (above their transaction.max.timeout.ms): lower transactionTimeoutMs`,
        flags,
      );
    const overdue = open !== undefined && Date.now() - open.since >= transactionTimeoutMs;
    if (
      overdue ||
      code === TXN.INVALID_PRODUCER_EPOCH ||
      code === RDKAFKA.TIMED_OUT ||
      code === TXN.REQUEST_TIMED_OUT ||
      code === RDKAFKA.MSG_TIMED_OUT
    )
      return new TicketflowError(
        'CHECKPOINT_FAILED',
        overdue || code === TXN.INVALID_PRODUCER_EPOCH
          ? `${what}: the transaction of transactional id ${id} timed out (open longer than transactionTimeoutMs, ${transactionTimeoutMs} ms) and was aborted (${detail}): raise transactionTimeoutMs above the batch window`
          : `${what}: the transaction of transactional id ${id} timed out (${detail}); the brokers at ${brokers} did not answer in time`,
        flags,
      );
    const wrapped = fromClientError(error, what, brokers);
    return new TicketflowError(wrapped.code, firstLine(wrapped.message), flags);
  };

  const topicExists = async (client: Producer, topic: string): Promise<boolean> => {
    const metadata = await call<Metadata>((cb) =>
      client.getMetadata({ topic, timeout: 10_000 }, cb as never),
    );
    const found = metadata.topics.find((t) => t.name === topic);
    return found !== undefined && found.partitions.length > 0;
  };

  const connect = async (): Promise<Producer> => {
    const Kafka = kafkaModule();
    const client: Producer = new Kafka.Producer({
      ...connection,
      dr_cb: true,
      'transactional.id': transactionalId,
      'enable.idempotence': true,
      acks: 'all',
      // message.timeout.ms follows it (librdkafka lowers it to the transaction timeout).
      'transaction.timeout.ms': transactionTimeoutMs,
      'linger.ms': 5,
      'compression.type': 'lz4',
      'allow.auto.create.topics': false,
      ...options.librdkafka,
    } as never);
    client.on('delivery-report', (error: LibrdKafkaError, report: DeliveryReport) => {
      (report.opaque as Delivered | undefined)?.(error ?? null);
    });
    client.on('event.error', (error: LibrdKafkaError) => {
      if (error.isFatal) fatal ??= error;
      else options.onWarning?.(`kafka: ${firstLine(error.message)}`);
    });
    try {
      await connectClient(client, brokers, options.connectTimeoutMs ?? 15_000, `connecting to ${brokers}`);
    } catch (error) {
      try {
        client.disconnect();
      } catch {
        // Never connected: nothing to stop.
      }
      throw error;
    }
    client.setPollInterval(20);
    try {
      for (const [topic, which] of [
        [partialsTopic, 'partials'],
        [deadLetterTopic, 'dead-letter'],
      ] as const) {
        const exists = await topicExists(client, topic).catch((error: unknown) => {
          throw wrap(error, `reading the metadata of ${topic}`);
        });
        if (!exists)
          throw new TicketflowError(
            'TOPIC_NOT_FOUND',
            `the ${which} topic ${JSON.stringify(topic)} does not exist on ${brokers}: create it, or name an existing one`,
            { retriable: false },
          );
      }
      await call<void>((cb) => client.initTransactions(CALL_TIMEOUT_MS, cb as never)).catch(
        (error: unknown) => {
          throw wrap(error, `initializing the transactions of transactional id ${id}`);
        },
      );
    } catch (error) {
      await disconnect(client);
      throw error;
    }
    return client;
  };
  const disconnect = async (client: Producer) => {
    client.setPollInterval(0);
    await new Promise<void>((resolve) => {
      try {
        client.disconnect(() => resolve());
      } catch {
        resolve();
      }
    });
  };
  const ready = async (): Promise<Producer> => {
    if (closed) throw new TicketflowError('INVALID_STATE', `the Kafka transactions of ${id} are closed`);
    if (producer !== undefined) return producer;
    connecting ??= connect().then(
      (client) => {
        producer = client;
        return client;
      },
      (error: unknown) => {
        connecting = undefined;
        throw error;
      },
    );
    return connecting;
  };

  /** Whether a letter belongs to the open batch: its lane is in the range, at or below its end. */
  const inOpenBatch = (letter: Letter, range: InputRange) => {
    const at = letter.where.lastIndexOf('@');
    const lane = letter.where.slice(0, at);
    const offset = Number(letter.where.slice(at + 1));
    const r = range[lane];
    return r !== undefined && offset <= r.to;
  };

  /** Aborts the open transaction, if any; a failure to abort is left to the brokers' timeout. */
  const abort = async () => {
    const client = producer;
    const was = open;
    open = undefined;
    if (was === undefined) return;
    // The aborted batch's letters go with it (its replay writes them again); the next batch's stay.
    queue = queue.filter((l) => !inOpenBatch(l, was.range));
    if (client === undefined || fatal !== undefined) return;
    await call<void>((cb) => client.abortTransaction(CALL_TIMEOUT_MS, cb as never)).catch(() => {});
  };
  /** Runs a step of the open transaction: on failure, aborts it and rejects with the one-line error. */
  const step = async <T>(what: string, run: (client: Producer) => Promise<T>): Promise<T> => {
    try {
      const client = await ready();
      if (fatal !== undefined) throw fatal;
      return await run(client);
    } catch (error) {
      const wrapped = wrap(error, what);
      await abort();
      throw wrapped;
    }
  };
  const requireOpen = (what: string) => {
    if (open === undefined)
      throw new TicketflowError(
        'INVALID_STATE',
        `${what}: no transaction is open (checkpoint.begin opens one per batch)`,
      );
  };

  /** Produces one message and resolves once the brokers have it. */
  const produce = async (
    client: Producer,
    topic: string,
    value: Buffer | null,
    key: Buffer | string | null,
    headers: ReturnType<typeof clientHeaders>,
  ): Promise<{ delivered: Promise<void> }> => {
    for (;;) {
      let settle: Delivered = () => {};
      const delivered = new Promise<void>((resolve, reject) => {
        settle = (error) => (error ? reject(error) : resolve());
      });
      try {
        client.produce(
          topic,
          null,
          value === null ? null : bytesOf(value),
          Buffer.isBuffer(key) ? bytesOf(key) : key,
          Date.now(),
          settle,
          headers as never,
        );
        // Observed by deliverAll; a rejection before then is not unhandled.
        delivered.catch(() => {});
        return { delivered };
      } catch (error) {
        if (clientErrorCode(error) !== RDKAFKA.QUEUE_FULL) throw error;
        client.poll();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  };
  const deliverAll = async (client: Producer, deliveries: Array<Promise<void>>) => {
    await call<void>((cb) => client.flush(CALL_TIMEOUT_MS, cb as never));
    await Promise.all(deliveries);
  };

  const checkpoint: CheckpointStore = {
    location: `kafka-transaction:${transactionalId}`,
    async load(): Promise<CheckpointState> {
      await ready();
      // The group's committed offsets are the positions: the source starts from them on assignment.
      return { nextBatchId: 0, positions: {} };
    },
    async begin(plan: BatchPlan) {
      await step(`beginning the transaction of batch ${plan.batchId}`, async (client) => {
        if (open !== undefined) await abort();
        await call<void>((cb) => client.beginTransaction(cb as never));
        open = { batchId: plan.batchId, range: plan.range, since: Date.now() };
      });
    },
    async commit(plan: BatchPlan) {
      await step(`committing the transaction of batch ${plan.batchId}`, async (client) => {
        requireOpen(`committing batch ${plan.batchId}`);
        const offsets = source.transactionOffsets(plan.positions);
        if (offsets.length > 0) {
          const consumer = source.transactionConsumer();
          await call<void>((cb) =>
            client.sendOffsetsToTransaction(
              offsets.map((o) => ({ ...o })),
              consumer,
              CALL_TIMEOUT_MS,
              cb as never,
            ),
          );
        }
        await call<void>((cb) => client.commitTransaction(CALL_TIMEOUT_MS, cb as never));
        open = undefined;
      });
    },
  };

  const sink: Sink<unknown> = {
    async write(batch: Batch<unknown>) {
      await step(`writing the partial of batch ${batch.batchId} to ${partialsTopic}`, async (client) => {
        requireOpen(`writing batch ${batch.batchId}`);
        const partial = batch.partial;
        if (partial === undefined)
          throw new TicketflowError(
            'SINK_FAILED',
            `batch ${batch.batchId} has no partial aggregate: run the pipeline with stage: 'partial'`,
            { retriable: false },
          );
        const value = Buffer.from(JSON.stringify(partial));
        const { delivered } = await produce(client, partialsTopic, value, transactionalId, undefined);
        await deliverAll(client, [delivered]);
      });
    },
    describe: (batchId) => `kafka:${partialsTopic} (partial of batch ${batchId})`,
    close: () => close(),
  };

  const deadLetters: DeadLetterHandler<KafkaRecord> = {
    write(letter: DeadLetter<KafkaRecord>) {
      queue.push(letterOf(letter, maxBytes));
    },
    async flush() {
      if (queue.length === 0) return;
      await step(`writing dead letters to ${deadLetterTopic}`, async (client) => {
        requireOpen('writing dead letters');
        const range = (open as { range: InputRange }).range;
        // Letters of records read for the next batch wait for its transaction.
        const letters = queue.filter((l) => inOpenBatch(l, range));
        const deliveries: Array<Promise<void>> = [];
        for (const letter of letters) {
          for (;;) {
            const m = messageOf(letter);
            try {
              deliveries.push(
                (await produce(client, deadLetterTopic, m.value, m.key, clientHeaders(m.headers))).delivered,
              );
              break;
            } catch (error) {
              // Refused at once by the client: too large once framed, so cut it further.
              if (isTooLarge(error) && letter.limit > MIN_DEAD_LETTER_BYTES) {
                letter.limit = Math.max(MIN_DEAD_LETTER_BYTES, Math.floor(letter.limit / 2));
                continue;
              }
              throw error;
            }
          }
        }
        await deliverAll(client, deliveries).catch((error: unknown) => {
          if (!isTooLarge(error)) throw error;
          throw new TicketflowError(
            'SINK_FAILED',
            `writing dead letters to ${deadLetterTopic}: the brokers refuse a dead letter as too large: set maxMessageBytes below the topic's max.message.bytes`,
            { cause: error, retriable: false },
          );
        });
        const done = new Set(letters);
        queue = queue.filter((l) => !done.has(l));
      });
    },
    // Letters of an uncommitted batch are written again by its replay: nothing to flush on close.
    close: async () => {},
  };

  const close = async () => {
    if (closed) return;
    closed = true;
    const client = producer ?? (await connecting?.catch(() => undefined));
    producer = client;
    if (client === undefined) return;
    await abort();
    await disconnect(client);
    producer = undefined;
  };

  return { checkpoint, sink, deadLetters, close };
}
