import type { DeliveryReport, LibrdKafkaError, Producer } from '@confluentinc/kafka-javascript';
import { TicketflowError } from '@ticketflow/core';
import { call, connectClient, kafkaModule } from './client';
import { type KafkaConnectionOptions, librdkafkaConfig } from './connection';
import { fromClientError, isAuthenticationError } from './kafka-errors';

/** Where a produced message landed. */
export interface Delivery {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** The message's offset. */
  readonly offset: number;
}

/** Options of {@link createKafkaProducer}. */
export interface KafkaProducerOptions extends KafkaConnectionOptions {
  /** How long messages wait to be batched, in ms. Default 5. */
  readonly lingerMs?: number;
  /** Receives client warnings. Default: ignored. */
  readonly onWarning?: (message: string) => void;
}

/** A connected producer with delivery reports. */
export interface KafkaProducer {
  /**
   * Queues one message; `onDelivery` is called with its partition and offset once the brokers have it,
   * or with an error. Waits (polling the client) while the client's queue is full.
   */
  send(
    topic: string,
    value: string | Buffer,
    options?: {
      readonly key?: string;
      readonly headers?: Readonly<Record<string, string>>;
      readonly onDelivery?: (error: TicketflowError | undefined, delivery: Delivery | undefined) => void;
    },
  ): Promise<void>;
  /** Resolves once every queued message is delivered; rejects on the first delivery failure since the last flush. */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes and disconnects. */
  close(): Promise<void>;
}

type OnDelivery = (error: TicketflowError | undefined, delivery: Delivery | undefined) => void;

const QUEUE_FULL = -184;

/**
 * Connects an idempotent producer (`acks=all`, no duplicates on retry) to Kafka or Redpanda.
 *
 * @example
 * ```ts
 * const producer = await createKafkaProducer({ brokers: '127.0.0.1:9092' });
 * await producer.send('client_tickets', JSON.stringify(ticket), {
 *   onDelivery: (error, d) => console.log(error ?? `Delivered to ${d!.topic} [${d!.partition}] @ offset ${d!.offset}`),
 * });
 * await producer.close();
 * ```
 */
export async function createKafkaProducer(options: KafkaProducerOptions): Promise<KafkaProducer> {
  const connection = librdkafkaConfig(options);
  const brokers = String(connection['bootstrap.servers']);
  const Kafka = kafkaModule();
  const producer: Producer = new Kafka.Producer({
    ...connection,
    dr_cb: true,
    'enable.idempotence': true,
    acks: 'all',
    'linger.ms': options.lingerMs ?? 5,
    'queue.buffering.max.messages': 500_000,
    'compression.type': 'lz4',
  } as never);
  let failure: TicketflowError | undefined;
  let authFailure: TicketflowError | undefined;
  let pending = 0;
  producer.on('delivery-report', (error: LibrdKafkaError, report: DeliveryReport) => {
    pending -= 1;
    const callback = report.opaque as OnDelivery | undefined;
    if (error) {
      const wrapped = fromClientError(error, `delivering to ${report.topic}`, brokers);
      failure ??= wrapped;
      callback?.(wrapped, undefined);
    } else {
      callback?.(undefined, { topic: report.topic, partition: report.partition, offset: report.offset });
    }
  });
  producer.on('event.error', (error: LibrdKafkaError) => {
    if (isAuthenticationError(error)) authFailure ??= fromClientError(error, 'producing', brokers);
    else options.onWarning?.(`kafka: ${error.message}`);
  });
  await connectClient(producer, brokers, options.connectTimeoutMs ?? 15_000, `connecting to ${brokers}`);
  producer.setPollInterval(20);

  const flush = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    await call<void>((cb) => producer.flush(timeoutMs, cb as never)).catch((error: unknown) => {
      throw fromClientError(error, 'flushing the producer', brokers);
    });
    // The brokers have every message once flush returns; their delivery reports still wait in the queue.
    while (pending > 0 && !authFailure) {
      if (Date.now() > deadline) {
        throw new TicketflowError(
          'SOURCE_FAILED',
          `${pending} messages still undelivered after ${timeoutMs} ms`,
          {
            retriable: true,
          },
        );
      }
      producer.poll();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const error = authFailure ?? failure;
    failure = undefined;
    if (error) throw error;
  };

  return {
    async send(topic, value, sendOptions = {}) {
      if (authFailure) throw authFailure;
      const headers = sendOptions.headers
        ? Object.entries(sendOptions.headers).map(([key, v]) => ({ [key]: Buffer.from(v) }))
        : undefined;
      const payload = typeof value === 'string' ? Buffer.from(value) : value;
      for (;;) {
        try {
          producer.produce(
            topic,
            null,
            payload,
            sendOptions.key,
            Date.now(),
            sendOptions.onDelivery,
            headers,
          );
          pending += 1;
          return;
        } catch (error) {
          if ((error as LibrdKafkaError).code !== QUEUE_FULL)
            throw fromClientError(error, `producing to ${topic}`, brokers);
          producer.poll();
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    },
    flush,
    async close() {
      try {
        await flush();
      } finally {
        producer.setPollInterval(0);
        await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
      }
    },
  };
}

/** True when a message failed for a reason the producer cannot retry. */
export function isFatalDelivery(error: TicketflowError): boolean {
  return error.fatal || error.code === 'AUTHENTICATION_FAILED';
}
