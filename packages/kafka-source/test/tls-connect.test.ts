import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { TicketflowError } from '@ticketflow/core';
import { of } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { tlsError, tlsHandshakeFailure } from '../src/kafka-errors';
import { kafkaSource } from '../src/kafka-source';
import { createKafkaProducer } from '../src/producer';
import { ensureBroker } from './support/broker';

const TLS_BROKERS = '127.0.0.1:9095';
const CA_FILE = join(resolve(import.meta.dirname, '../../..'), '.cache/kafka/tls/ca.pem');

beforeAll(() => ensureBroker());

async function failure(promise: Promise<unknown>): Promise<TicketflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TicketflowError);
  return error as TicketflowError;
}

function expectUnknownCa(error: TicketflowError) {
  expect(error.code).toBe('AUTHENTICATION_FAILED');
  expect(error.retriable).toBe(false);
  expect(error.message).not.toContain('\n');
  expect(error.message).toMatch(/TLS certificate verification failed for the brokers at 127\.0\.0\.1:9095/);
  expect(error.message).toMatch(/not signed by a CA this client trusts/);
  expect(error.message).toMatch(/KAFKA_SSL_CA or --ssl-ca/);
}

describe('a TLS listener whose CA the client does not know', () => {
  // A connect timeout longer than the test's: only a failure on the certificate itself ends in time.
  const connectTimeoutMs = 120_000;

  it('fails the producer at once, naming the certificate verification and the fix', async () => {
    const error = await failure(createKafkaProducer({ brokers: TLS_BROKERS, tls: true, connectTimeoutMs }));
    expectUnknownCa(error);
  });

  it('fails the consumer at once, naming the certificate verification and the fix', async () => {
    const source = kafkaSource({
      brokers: TLS_BROKERS,
      tls: true,
      topic: 'client_tickets',
      connectTimeoutMs,
    });
    const opened = new Promise<void>((ok, fail) => {
      source
        .open({
          startAt: {},
          signal: new AbortController().signal,
          pressure: of(false),
          flush: async () => {},
        })
        .subscribe({ error: fail, complete: ok });
    });
    const error = await failure(opened);
    await source.close?.();
    expectUnknownCa(error);
  });

  it('connects once given the CA', async () => {
    const producer = await createKafkaProducer({
      brokers: TLS_BROKERS,
      tls: { ca: CA_FILE },
      autoCreateTopics: false,
    });
    expect(await producer.hasTopic(`no-such-topic-${randomUUID()}`)).toBe(false);
    await producer.close();
  });

  it("reads the client's own handshake log line when the check could not run", () => {
    const line =
      '[thrd:ssl://127.0.0.1:9095/bootstrap]: ssl://127.0.0.1:9095/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured or root CA certificates are installed (install ca-certificates package) (after 18ms in state SSL_HANDSHAKE, 1 identical error(s) suppressed)';
    const failed = tlsHandshakeFailure(line);
    expect(failed).toMatch(/^SSL handshake failed: .*certificate verify failed/);
    expect(failed).not.toMatch(/after 18ms/);
    expect(tlsHandshakeFailure('Connect to ipv4#127.0.0.1:1 failed: Connection refused')).toBeUndefined();
    const error = tlsError(failed as string, 'connecting to 127.0.0.1:9095', TLS_BROKERS);
    expect(error.message).toMatch(/TLS certificate verification failed .*KAFKA_SSL_CA/);
    expect(error.retriable).toBe(false);
  });
});
