import { isUtf8 } from 'node:buffer';
import { type RecordText, reject, type Step } from '@ticketflow/core';

/** One header of a Kafka message: its name and its value's bytes (or text). */
export type KafkaHeader = Readonly<Record<string, Buffer | string>>;

/**
 * A Kafka message as {@link kafkaSource} emits it: the value's bytes untouched, with the message's key,
 * headers and timestamp, so that a dead-letter copy can keep them all.
 */
export interface KafkaRecord {
  /** The value's bytes; `null` for a message without a value (a tombstone). */
  readonly value: Buffer | null;
  /** The key's bytes, when the message has one. */
  readonly key?: Buffer | string | null | undefined;
  /** The headers, in order, when the message has any. */
  readonly headers?: readonly KafkaHeader[] | undefined;
  /** The message's timestamp, in ms since the epoch, when the broker gave one. */
  readonly timestamp?: number | undefined;
}

/** The reason a message without a value is refused with. */
const NULL_VALUE = 'message has no value (null)';
/** The reason a value whose bytes are not UTF-8 is refused with. */
const NOT_UTF8 = 'message value is not valid UTF-8';

/**
 * A decode step that turns a {@link KafkaRecord}'s value into text: refuses a message without a value
 * and one whose bytes are not valid UTF-8 (rather than replacing them with U+FFFD), so that such a
 * record goes to the dead letters with its reason. Compose it with a text step:
 *
 * @example
 * ```ts
 * const decode = composeSteps(kafkaText, (text) => JSON.parse(text) as { n: number });
 * ```
 */
export const kafkaText: Step<KafkaRecord, string> = (record) => {
  const value = record.value;
  if (value === null || value === undefined) return reject(NULL_VALUE);
  if (!isUtf8(value)) return reject(NOT_UTF8);
  // A record copied to a worker thread holds a plain Uint8Array, whose toString lists its bytes.
  return Buffer.isBuffer(value)
    ? value.toString('utf8')
    : Buffer.from(
        (value as Uint8Array).buffer,
        (value as Uint8Array).byteOffset,
        (value as Uint8Array).byteLength,
      ).toString('utf8');
};

/**
 * How a pipeline with worker threads sends Kafka messages to them (`WorkerOptions.text`): each message's
 * value bytes, read there as UTF-8 text, refused as {@link kafkaText} refuses them (a message without a
 * value, a value that is not UTF-8) with the same reasons. The fold module's decode then starts from the
 * text, where it would start with `kafkaText` on this thread; the dead letters keep the whole messages.
 *
 * @example
 * ```ts
 * const workers = { module: new URL('./orders-fold.js', import.meta.url), text: kafkaValueText };
 * ```
 */
export const kafkaValueText: RecordText<KafkaRecord> = {
  bytes: (record) => record.value ?? reject(NULL_VALUE),
  notUtf8Reason: NOT_UTF8,
};
