import { randomBytes, randomUUID } from 'node:crypto';
import type { DeadLetter } from '@ticketflow/core';
import { TicketflowError } from '@ticketflow/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { kafkaDeadLetters } from '../src/dead-letter-topic';
import type { KafkaRecord } from '../src/kafka-record';
import { BROKERS, ensureBroker } from './support/broker';
import { createTopicWith, headerText, messageCount, readRaw, topicExists } from './support/raw-kafka';

beforeAll(() => ensureBroker());

const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

function letter(record: KafkaRecord, offset: number, reason = 'bad record'): DeadLetter<KafkaRecord> {
  return { value: record, reason, lane: 'client_tickets/2', offset };
}

describe('kafkaDeadLetters on a real broker', () => {
  it('keeps the value bytes, an empty value, a null value, the key and the headers, and adds reason and origin', async () => {
    const topic = fresh('dlq-keep');
    await createTopicWith(topic, 1);
    const binary = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00]), randomBytes(2008)]);
    const deadLetters = kafkaDeadLetters({ brokers: BROKERS, topic });
    deadLetters.write(
      letter(
        {
          value: binary,
          key: Buffer.from([0x00, 0xff, 0x10]),
          headers: [{ trace: Buffer.from([0x00, 0xfe]) }, { trace: 'again' }, { source: 'crm' }],
        },
        10,
        'message value is not valid UTF-8',
      ),
    );
    deadLetters.write(letter({ value: Buffer.alloc(0), key: 'empty-key' }, 11, 'not JSON'));
    deadLetters.write(letter({ value: null, key: 'tombstone' }, 12, 'message has no value (null)'));
    await deadLetters.flush();
    await deadLetters.close?.();

    const [bin, empty, none] = await readRaw(topic, 3);
    expect(bin?.value?.equals(binary)).toBe(true);
    expect(bin?.value?.length).toBe(2011);
    expect(bin?.key?.equals(Buffer.from([0x00, 0xff, 0x10]))).toBe(true);
    expect(bin?.headers.map(([k]) => k)).toEqual([
      'trace',
      'trace',
      'source',
      'reason',
      'original_topic',
      'original_partition',
      'original_offset',
    ]);
    expect(bin?.headers[0]?.[1].equals(Buffer.from([0x00, 0xfe]))).toBe(true);
    expect(bin && headerText(bin)).toMatchObject({
      source: 'crm',
      reason: 'message value is not valid UTF-8',
      original_topic: 'client_tickets',
      original_partition: '2',
      original_offset: '10',
    });
    expect(bin?.headers.some(([k]) => k === 'truncated')).toBe(false);

    expect(empty?.value).not.toBeNull();
    expect(empty?.value?.length).toBe(0);
    expect(empty?.key?.toString()).toBe('empty-key');
    expect(empty && headerText(empty).reason).toBe('not JSON');

    expect(none?.value).toBeNull();
    expect(none?.key?.toString()).toBe('tombstone');
    expect(none && headerText(none).original_offset).toBe('12');
  });

  it("cuts a letter larger than the topic's max.message.bytes to fit, saying so and keeping the original size", async () => {
    const topic = fresh('dlq-small');
    await createTopicWith(topic, 1, { 'max.message.bytes': '200000' });
    // Random bytes: compression cannot bring them under the topic's limit.
    const big = randomBytes(600_000);
    const deadLetters = kafkaDeadLetters({ brokers: BROKERS, topic });
    deadLetters.write(letter({ value: big, key: 'k', headers: [{ h: 'v' }] }, 7, 'too long'));
    deadLetters.write(letter({ value: Buffer.from('small') }, 8, 'small one'));
    await deadLetters.flush();
    await deadLetters.close?.();

    const messages = await readRaw(topic, 2);
    expect(messages).toHaveLength(2);
    const cut = messages.find((m) => headerText(m).original_offset === '7');
    expect(cut && headerText(cut)).toMatchObject({
      truncated: 'value',
      original_size: '600000',
      reason: 'too long',
      h: 'v',
    });
    // Refused at 1 000 000, 500 000 and 250 000 bytes, the limit halves to 125 000: the value fills it
    // less 512 bytes of framing, the key and the headers (name, value and 10 bytes each), to the byte.
    const headerBytes = (cut?.headers ?? []).reduce(
      (n, [k, v]) => n + Buffer.byteLength(k) + v.length + 10,
      0,
    );
    expect(cut?.key?.toString()).toBe('k');
    expect(cut?.value?.length).toBe(125_000 - 512 - 1 - headerBytes);
    expect(cut?.value?.equals(big.subarray(0, cut.value.length))).toBe(true);
    const small = messages.find((m) => headerText(m).original_offset === '8');
    expect(small?.value?.toString()).toBe('small');
  });

  it('refuses a missing topic without creating it (not retriable), keeps the letters, and writes them once it exists', async () => {
    const topic = fresh('dlq-missing');
    const deadLetters = kafkaDeadLetters({ brokers: BROKERS, topic });
    deadLetters.write(letter({ value: Buffer.from('x') }, 1));
    const error = await deadLetters.flush().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TicketflowError);
    expect((error as TicketflowError).code).toBe('TOPIC_NOT_FOUND');
    expect((error as TicketflowError).retriable).toBe(false);
    expect((error as Error).message).toMatch(new RegExp(`dead-letter topic "${topic}" does not exist`));
    expect((error as Error).message).not.toContain('\n');
    expect(await topicExists(topic)).toBe(false);

    await createTopicWith(topic, 1);
    await deadLetters.flush();
    await deadLetters.close?.();
    expect(await messageCount(topic)).toBe(1);
    const [m] = await readRaw(topic, 1);
    expect(m?.value?.toString()).toBe('x');
  });

  it('rejects flush as retriable when the brokers cannot be reached', async () => {
    const deadLetters = kafkaDeadLetters({ brokers: '127.0.0.1:1', topic: 'dlq', connectTimeoutMs: 2_000 });
    deadLetters.write(letter({ value: Buffer.from('x') }, 1));
    const error = await deadLetters.flush().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TicketflowError);
    expect((error as TicketflowError).code).toBe('BROKER_UNREACHABLE');
    expect((error as TicketflowError).retriable).toBe(true);
    expect((error as Error).message).toMatch(/^writing dead letters to dlq: .*cannot reach the brokers/);
    await deadLetters.close?.();
  });
});
