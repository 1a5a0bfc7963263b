import { TicketflowError } from '@ticketflow/core';
import { describe, expect, it } from 'vitest';
import { connectionSecrets, laneOf, librdkafkaConfig, parseLane } from '../src/index';
import { fromClientError } from '../src/kafka-errors';

describe('librdkafkaConfig', () => {
  it('maps plaintext, SASL and TLS options to client properties', () => {
    expect(librdkafkaConfig({ brokers: 'a:9092, b:9092' })).toMatchObject({
      'bootstrap.servers': 'a:9092,b:9092',
      'security.protocol': 'plaintext',
    });
    expect(
      librdkafkaConfig({
        brokers: ['seed.example:9092'],
        sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' },
        tls: true,
      }),
    ).toMatchObject({
      'security.protocol': 'sasl_ssl',
      'sasl.mechanisms': 'SCRAM-SHA-256',
      'sasl.username': 'u',
      'sasl.password': 'p',
    });
    expect(
      librdkafkaConfig({ brokers: 'h:1', tls: { ca: '-----BEGIN CERTIFICATE-----\nx', verify: false } }),
    ).toMatchObject({
      'security.protocol': 'ssl',
      'ssl.ca.pem': '-----BEGIN CERTIFICATE-----\nx',
      'enable.ssl.certificate.verification': false,
    });
  });

  it('refuses bad settings with a message naming the field and never the password', () => {
    expect(() => librdkafkaConfig({ brokers: '' })).toThrow(/brokers must list at least one host:port/);
    expect(() => librdkafkaConfig({ brokers: 'nohost' })).toThrow(/brokers must be host:port, got "nohost"/);
    const bad = () =>
      librdkafkaConfig({
        brokers: 'h:1',
        sasl: { mechanism: 'gssapi' as never, username: 'u', password: 'hunter2' },
      });
    expect(bad).toThrow(/sasl mechanism must be one of plain, scram-sha-256, scram-sha-512/);
    try {
      bad();
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
    expect(() => librdkafkaConfig({ brokers: 'h:1', tls: { ca: '/no/such/ca.pem' } })).toThrow(
      /not readable/,
    );
  });

  it('lists the password as the one secret to scrub', () => {
    expect(
      connectionSecrets({ brokers: 'h:1', sasl: { mechanism: 'plain', username: 'u', password: 's3' } }),
    ).toEqual(['s3']);
    expect(connectionSecrets({ brokers: 'h:1' })).toEqual([]);
  });
});

describe('client errors', () => {
  it('classifies refused credentials, unreachable brokers and unknown topics, keeping the client flags', () => {
    const auth = fromClientError({ message: 'authentication failure', code: -1 }, 'connecting', 'h:1');
    expect(auth).toBeInstanceOf(TicketflowError);
    expect(auth.code).toBe('AUTHENTICATION_FAILED');
    expect(auth.fatal).toBe(true);
    const down = fromClientError({ message: 'broker transport failure', code: -195 }, 'connecting', 'h:1');
    expect(down.code).toBe('BROKER_UNREACHABLE');
    expect(down.retriable).toBe(true);
    const topic = fromClientError(
      { message: 'Broker: Unknown topic or partition', code: 3 },
      'reading',
      'h:1',
    );
    expect(topic.code).toBe('TOPIC_NOT_FOUND');
    const other = fromClientError(
      { message: 'boom\nsecond line', code: 99, isRetriable: true },
      'reading',
      'h:1',
    );
    expect(other).toMatchObject({ code: 'SOURCE_FAILED', retriable: true, message: 'reading: boom' });
  });

  it('names lanes after topic and partition, and parses them back', () => {
    expect(laneOf('client_tickets', 3)).toBe('client_tickets/3');
    expect(parseLane('client_tickets/3')).toEqual({ topic: 'client_tickets', partition: 3 });
    expect(parseLane('input')).toBeUndefined();
  });
});
