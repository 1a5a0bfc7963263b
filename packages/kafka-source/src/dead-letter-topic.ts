import { type DeadLetter, type DeadLetterHandler, firstLine, TicketflowError } from '@ticketflow/core';
import { clientErrorCode, fromClientError, isAuthorizationError, RDKAFKA } from './kafka-errors';
import type { KafkaHeader, KafkaRecord } from './kafka-record';
import { parseLane } from './kafka-source';
import { createKafkaProducer, type KafkaProducer, type KafkaProducerOptions } from './producer';

/** Options of {@link kafkaDeadLetters}. */
export interface KafkaDeadLetterOptions extends KafkaProducerOptions {
  /** The dead-letter topic, such as `client_tickets.dlq`. It must exist: it is never created. */
  readonly topic: string;
  /**
   * The largest dead letter, in bytes: value, key and headers (before compression). A larger one is
   * truncated to fit (see {@link kafkaDeadLetters}). Default 1 000 000, Kafka's default topic limit.
   * When the topic's own `max.message.bytes` is smaller, the brokers' refusal halves the limit until the
   * letter fits (down to {@link MIN_DEAD_LETTER_BYTES}).
   */
  readonly maxMessageBytes?: number;
  /** How long one `flush` waits for the brokers to acknowledge the letters, in ms. Default 30 000. */
  readonly flushTimeoutMs?: number;
}

/** The header naming what a dead letter lost to fit the topic: `value`, `value,headers` or `value,headers,key`. */
export const TRUNCATED_HEADER = 'truncated';
/** The header holding the original value's size in bytes, on a truncated dead letter. */
export const ORIGINAL_SIZE_HEADER = 'original_size';
/** The smallest limit the truncation goes down to, in bytes. */
export const MIN_DEAD_LETTER_BYTES = 1024;

/** Bytes kept free for the message's framing and the headers' varints. */
const FRAMING_BYTES = 512;

/** A dead letter waiting to be produced (internal: shared with `kafkaPartials`). */
export interface Letter {
  readonly value: Buffer | null;
  readonly key: Buffer | string | null;
  readonly headers: readonly KafkaHeader[];
  readonly origin: Readonly<Record<string, string>>;
  readonly where: string;
  /** This letter's byte limit: lowered when the client or the brokers refuse it as too large. */
  limit: number;
}

/** The message a {@link Letter} is produced as. */
export interface LetterMessage {
  readonly value: Buffer | null;
  readonly key: Buffer | string | null;
  readonly headers: KafkaHeader[];
}

const byteLength = (v: Buffer | string | null | undefined) =>
  v == null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;

function headersBytes(headers: readonly KafkaHeader[]): number {
  let n = 0;
  for (const header of headers)
    for (const [name, v] of Object.entries(header)) n += Buffer.byteLength(name) + byteLength(v) + 10;
  return n;
}

/**
 * The message of a letter within its limit: the original value, key and headers, then the origin
 * headers; past the limit, the value is cut (then the original headers, then the key, dropped) and
 * `truncated` and `original_size` say so.
 */
export function messageOf(letter: Letter): LetterMessage {
  const origin: KafkaHeader[] = Object.entries(letter.origin).map(([name, v]) => ({ [name]: v }));
  const valueBytes = byteLength(letter.value);
  const budget = letter.limit - FRAMING_BYTES;
  const full = valueBytes + byteLength(letter.key) + headersBytes(letter.headers) + headersBytes(origin);
  if (full <= budget)
    return { value: letter.value, key: letter.key, headers: [...letter.headers, ...origin] };
  const marks = (cut: string): KafkaHeader[] => [
    { [TRUNCATED_HEADER]: cut },
    { [ORIGINAL_SIZE_HEADER]: String(valueBytes) },
  ];
  for (const [cut, key, headers] of [
    ['value', letter.key, letter.headers],
    ['value,headers', letter.key, []],
    ['value,headers,key', null, []],
  ] as const) {
    const room =
      budget - byteLength(key) - headersBytes(headers) - headersBytes(origin) - headersBytes(marks(cut));
    if (room >= 0) {
      const value = letter.value === null ? null : letter.value.subarray(0, Math.min(room, valueBytes));
      return { value, key, headers: [...headers, ...origin, ...marks(cut)] };
    }
  }
  return {
    value: letter.value === null ? null : Buffer.alloc(0),
    key: null,
    headers: [...origin, ...marks('value,headers,key')],
  };
}

/** The letter of an invalid record: its value, key and headers, and the origin headers. */
export function letterOf(letter: DeadLetter<KafkaRecord>, limit: number): Letter {
  const origin = parseLane(letter.lane);
  const record = letter.value;
  return {
    value: record.value ?? null,
    key: record.key ?? null,
    headers: record.headers ?? [],
    origin: {
      reason: letter.reason,
      original_topic: origin?.topic ?? letter.lane,
      original_partition: String(origin?.partition ?? ''),
      original_offset: String(letter.offset),
    },
    where: `${letter.lane}@${letter.offset}`,
    limit,
  };
}

/** True when the client or the brokers refused a message as too large. */
export const isTooLarge = (error: unknown) => clientErrorCode(error) === RDKAFKA.MSG_SIZE_TOO_LARGE;

/**
 * A {@link DeadLetterHandler} producing each invalid record to a dead-letter topic, as the original:
 * the value's bytes exactly (an empty value stays empty, a missing one stays missing), the key, and the
 * headers in order, followed by `reason`, `original_topic`, `original_partition` and `original_offset`.
 *
 * A letter larger than `maxMessageBytes` (or than the topic's `max.message.bytes`, learnt from the
 * brokers' refusal) is cut to fit, never refused: its value keeps its first bytes, and the headers
 * `truncated` (what was cut: `value`, `value,headers` or `value,headers,key`) and `original_size` (the
 * value's size in bytes) say so.
 *
 * `flush` resolves once the brokers acknowledged every letter written before it. It connects the first
 * time there is a letter, and checks that the topic exists: the producer never creates it. It rejects
 * with a one-line {@link TicketflowError} whose `retriable` says whether calling `flush` again may
 * succeed (letters not acknowledged are kept and sent again; delivery is at least once):
 * - `TOPIC_NOT_FOUND`, not retriable: the topic does not exist (create it, or name another one);
 * - `AUTHENTICATION_FAILED`, not retriable: the brokers refused the credentials or the TLS handshake,
 *   or refused access to the topic (ACLs);
 * - `BROKER_UNREACHABLE` or `SINK_FAILED`, retriable: the brokers did not answer in time, or another
 *   error the client calls retriable; `SINK_FAILED`, not retriable, for any other refusal.
 *
 * @example
 * ```ts
 * const deadLetters = kafkaDeadLetters({ brokers: '127.0.0.1:9092', topic: 'client_tickets.dlq' });
 * ```
 */
export function kafkaDeadLetters(options: KafkaDeadLetterOptions): DeadLetterHandler<KafkaRecord> {
  const { topic } = options;
  const maxBytes = options.maxMessageBytes ?? 1_000_000;
  if (!Number.isInteger(maxBytes) || maxBytes < MIN_DEAD_LETTER_BYTES) {
    throw new TicketflowError(
      'INVALID_OPTION',
      `dead-letter maxMessageBytes must be an integer of at least ${MIN_DEAD_LETTER_BYTES}, got ${maxBytes}`,
    );
  }
  const flushTimeoutMs = options.flushTimeoutMs ?? 30_000;
  const brokers = Array.isArray(options.brokers) ? options.brokers.join(',') : String(options.brokers);
  const what = `writing dead letters to ${topic}`;
  /** Letters written and not yet acknowledged, in order. */
  let queue: Letter[] = [];
  /** The limit learnt from the brokers' refusals: every later letter starts from it. */
  let limit = maxBytes;
  let producer: Promise<KafkaProducer> | undefined;
  let topicChecked = false;
  let flushing: Promise<void> = Promise.resolve();
  let failed = false;

  const connect = () => {
    producer ??= createKafkaProducer({
      ...options,
      maxMessageBytes: maxBytes,
      autoCreateTopics: false,
      librdkafka: { 'message.timeout.ms': flushTimeoutMs, ...options.librdkafka },
    });
    return producer;
  };
  const drop = async () => {
    const p = producer;
    producer = undefined;
    topicChecked = false;
    if (p === undefined) return;
    await p.then(
      (client) => client.close(1_000).catch(() => {}),
      () => {},
    );
  };
  const wrap = (error: unknown): TicketflowError => {
    const e = fromClientError(error, what, brokers);
    const detail = firstLine(e.message);
    const prefixed = detail.startsWith(what) ? detail : `${what}: ${detail}`;
    if (isAuthorizationError(e)) {
      return new TicketflowError(
        'AUTHENTICATION_FAILED',
        `${what}: the brokers at ${brokers} refuse this client access to the topic (grant it WRITE on ${topic})`,
        { cause: e, retriable: false, fatal: true },
      );
    }
    const code = clientErrorCode(e);
    if (code === RDKAFKA.UNKNOWN_TOPIC || code === RDKAFKA.UNKNOWN_TOPIC_OR_PART) return missingTopic(e);
    if (code === RDKAFKA.MSG_TIMED_OUT) {
      return new TicketflowError('BROKER_UNREACHABLE', prefixed, { cause: e, retriable: true });
    }
    if (e.code === 'AUTHENTICATION_FAILED') {
      return new TicketflowError(e.code, prefixed, { cause: e, retriable: false, fatal: true });
    }
    // A fatal producer (its idempotence state lost) is recreated by the next flush: retriable.
    return new TicketflowError(e.code === 'BROKER_UNREACHABLE' ? e.code : 'SINK_FAILED', prefixed, {
      cause: e,
      retriable: e.retriable || e.code === 'BROKER_UNREACHABLE' || e.fatal,
      fatal: e.fatal,
    });
  };
  const missingTopic = (cause?: unknown) =>
    new TicketflowError(
      'TOPIC_NOT_FOUND',
      `${what}: the dead-letter topic ${JSON.stringify(topic)} does not exist on ${brokers}: create it (1 partition is enough), or name an existing one (--dead-letter-topic)`,
      { cause, retriable: false },
    );

  /** Sends every letter once and waits for the brokers: which were delivered, which failed and why. */
  const sendAll = async (client: KafkaProducer, letters: readonly Letter[]) => {
    const delivered = new Set<Letter>();
    const errors = new Map<Letter, TicketflowError>();
    for (const letter of letters) {
      for (;;) {
        const m = messageOf(letter);
        try {
          await client.send(topic, m.value, {
            key: m.key,
            headers: m.headers,
            onDelivery: (error) => {
              if (error) errors.set(letter, error);
              else delivered.add(letter);
            },
          });
          break;
        } catch (error) {
          // Refused at once by the client: too large for its limit once framed, so cut it further.
          if (isTooLarge(error) && letter.limit > MIN_DEAD_LETTER_BYTES) {
            letter.limit = Math.max(MIN_DEAD_LETTER_BYTES, Math.floor(letter.limit / 2));
            continue;
          }
          errors.set(letter, error instanceof TicketflowError ? error : wrap(error));
          break;
        }
      }
    }
    let flushError: unknown;
    await client.flush(flushTimeoutMs + 5_000).catch((error: unknown) => {
      flushError = error;
    });
    return { delivered, errors, flushError };
  };

  const flushNow = async (letters: Letter[]) => {
    let client: KafkaProducer;
    try {
      client = await connect();
    } catch (error) {
      producer = undefined;
      throw wrap(error);
    }
    if (!topicChecked) {
      let exists: boolean;
      try {
        exists = await client.hasTopic(topic);
      } catch (error) {
        throw wrap(error);
      }
      if (!exists) throw missingTopic();
      topicChecked = true;
    }
    let todo = letters;
    while (todo.length > 0) {
      for (const letter of todo) letter.limit = Math.min(letter.limit, limit);
      const { delivered, errors, flushError } = await sendAll(client, todo);
      queue = queue.filter((l) => !delivered.has(l));
      const next: Letter[] = [];
      let failure: TicketflowError | undefined;
      for (const letter of todo) {
        if (delivered.has(letter)) continue;
        const error = errors.get(letter);
        if (error === undefined) {
          // Neither delivered nor refused when the flush gave up: the brokers did not answer in time.
          failure ??= wrap(
            flushError ??
              new TicketflowError('SINK_FAILED', 'no delivery report for a dead letter', {
                retriable: true,
              }),
          );
        } else if (isTooLarge(error) && letter.limit > MIN_DEAD_LETTER_BYTES) {
          // Refused by the brokers: the topic's max.message.bytes is below this limit.
          letter.limit = Math.max(MIN_DEAD_LETTER_BYTES, Math.floor(letter.limit / 2));
          limit = Math.min(limit, letter.limit);
          next.push(letter);
        } else {
          failure ??= isTooLarge(error)
            ? new TicketflowError(
                'SINK_FAILED',
                `${what}: the dead letter of ${letter.where} is refused as too large even cut to ${letter.limit} bytes (check the topic's max.message.bytes)`,
                { cause: error, retriable: false },
              )
            : wrap(error);
        }
      }
      if (failure) {
        if (failure.fatal && failure.retriable) await drop();
        throw failure;
      }
      todo = next;
    }
  };

  return {
    write(letter: DeadLetter<KafkaRecord>) {
      queue.push(letterOf(letter, limit));
    },
    flush() {
      // One flush at a time; each makes durable the letters written before it began.
      const letters = [...queue];
      const run = flushing.then(async () => {
        if (letters.length === 0) return;
        try {
          await flushNow(letters.filter((l) => queue.includes(l)));
          failed = false;
        } catch (error) {
          failed = true;
          throw error;
        }
      });
      flushing = run.catch(() => {});
      return run;
    },
    async close() {
      // After a failed flush the batch is not committed: its letters are written again on the replay.
      if (!failed) await this.flush();
      await drop();
    },
  };
}
