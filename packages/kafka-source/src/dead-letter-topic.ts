import type { DeadLetter, DeadLetterHandler } from '@ticketflow/core';
import type { KafkaRecord } from './kafka-record';
import { parseLane } from './kafka-source';
import { createKafkaProducer, type KafkaProducer, type KafkaProducerOptions } from './producer';

/** Options of {@link kafkaDeadLetters}. */
export interface KafkaDeadLetterOptions extends KafkaProducerOptions {
  /** The dead-letter topic, such as `client_tickets.dlq`. */
  readonly topic: string;
}

/**
 * A {@link DeadLetterHandler} producing each invalid record to a dead-letter topic: the value is the
 * original message's, and headers carry `reason`, `original_topic`, `original_partition` and
 * `original_offset`. `flush` resolves once the brokers acknowledged every record.
 *
 * @example
 * ```ts
 * const deadLetters = kafkaDeadLetters({ brokers: '127.0.0.1:9092', topic: 'client_tickets.dlq' });
 * ```
 */
export function kafkaDeadLetters(options: KafkaDeadLetterOptions): DeadLetterHandler<KafkaRecord> {
  let producer: Promise<KafkaProducer> | undefined;
  let sending: Promise<void> = Promise.resolve();
  const connect = () => {
    producer ??= createKafkaProducer(options);
    return producer;
  };
  return {
    write(letter: DeadLetter<KafkaRecord>) {
      const origin = parseLane(letter.lane);
      const headers = {
        reason: letter.reason,
        original_topic: origin?.topic ?? letter.lane,
        original_partition: String(origin?.partition ?? ''),
        original_offset: String(letter.offset),
      };
      sending = sending.then(async () =>
        (await connect()).send(options.topic, letter.value.value ?? '', { headers }),
      );
    },
    async flush() {
      await sending;
      if (producer !== undefined) await (await producer).flush();
    },
    async close() {
      await this.flush();
      if (producer !== undefined) await (await producer).close();
      producer = undefined;
    },
  };
}
