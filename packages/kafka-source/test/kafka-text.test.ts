import { isRejection } from '@ticketflow/core';
import { describe, expect, it } from 'vitest';
import { type KafkaRecord, kafkaText } from '../src/index';

const context = { lane: 'client_tickets/0', offset: 0 };

describe('kafkaText', () => {
  it('reads the value as UTF-8 text, from a Buffer and from a structured copy of one', () => {
    const value = Buffer.from('{"ticket_id":"é"}');
    expect(kafkaText({ value }, context)).toBe('{"ticket_id":"é"}');
    // What a worker thread receives: the Buffer's bytes as a plain Uint8Array.
    const copied = structuredClone({ value }) as unknown as KafkaRecord;
    expect(Buffer.isBuffer(copied.value)).toBe(false);
    expect(kafkaText(copied, context)).toBe('{"ticket_id":"é"}');
  });

  it('refuses a tombstone and bytes that are not UTF-8, with their reasons', () => {
    const tombstone = kafkaText({ value: null }, context);
    const binary = kafkaText({ value: Buffer.from([0x7b, 0xff]) }, context);
    expect(isRejection(tombstone) && tombstone.reason).toBe('message has no value (null)');
    expect(isRejection(binary) && binary.reason).toBe('message value is not valid UTF-8');
  });
});
