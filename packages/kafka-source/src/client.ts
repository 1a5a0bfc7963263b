import { createRequire } from 'node:module';
import { TicketflowError } from '@ticketflow/core';
import {
  type ClientError,
  fromClientError,
  isAuthenticationError,
  tlsError,
  tlsHandshakeFailure,
} from './kafka-errors';
import { checkBrokerCertificates } from './tls-check';

/** The client library, loaded lazily so that importing ticketflow never loads native code by itself. */
export type KafkaModule = typeof import('@confluentinc/kafka-javascript');

let loaded: KafkaModule | undefined;

/** Loads `@confluentinc/kafka-javascript` once. */
export function kafkaModule(): KafkaModule {
  if (loaded === undefined) {
    const require = createRequire(import.meta.url);
    try {
      loaded = require('@confluentinc/kafka-javascript') as KafkaModule;
    } catch (error) {
      throw new TicketflowError(
        'INTERNAL',
        'cannot load @confluentinc/kafka-javascript: reinstall it (offline machines: CKJS_LINKING=dynamic with libssl-dev and libsasl2-dev installed)',
        { cause: error },
      );
    }
  }
  return loaded;
}

/** A log line of the client (`event.log`): librdkafka's own message, such as a failed TLS handshake. */
interface ClientLog {
  readonly message?: string;
}

interface Connectable {
  connect(options: { timeout: number }, cb: (error: ClientError | null) => void): unknown;
  on(event: 'event.error', listener: (error: ClientError) => void): unknown;
  on(event: 'event.log', listener: (log: ClientLog) => void): unknown;
  removeListener(event: 'event.error', listener: (error: ClientError) => void): unknown;
  removeListener(event: 'event.log', listener: (log: ClientLog) => void): unknown;
}

/**
 * Connects a client, failing at once with `AUTHENTICATION_FAILED` when the brokers refuse the
 * credentials or their TLS certificate fails verification (an unknown CA: the message names the
 * certificate verification and `KAFKA_SSL_CA`; checked before connecting, see
 * {@link checkBrokerCertificates}, and from the client's log line, its error event only saying "ssl
 * error"), or with `BROKER_UNREACHABLE` once `timeoutMs` has passed without a connection.
 */
export async function connectClient(
  client: Connectable,
  brokers: string,
  timeoutMs: number,
  what: string,
): Promise<void> {
  // Once started, a connection attempt holds the process until its timeout (its metadata request cannot
  // be cancelled), so an untrusted certificate is found before the client connects at all.
  const config = (client as { globalConfig?: Readonly<Record<string, unknown>> }).globalConfig;
  if (config !== undefined) {
    try {
      await checkBrokerCertificates(config, what, Math.min(3_000, timeoutMs));
    } catch (error) {
      // A consumer that never connected crashes the process when disconnected (the client's bug): a 1 ms
      // attempt leaves it closed, so that its owner's disconnect returns at once.
      await new Promise<void>((resolve) => {
        try {
          client.connect({ timeout: 1 }, () => resolve());
        } catch {
          resolve();
        }
      });
      throw error;
    }
  }
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      client.removeListener('event.error', onError);
      client.removeListener('event.log', onLog);
      if (error === undefined) resolve();
      else reject(fromClientError(error, what, brokers));
    };
    const onError = (error: ClientError) => {
      if (isAuthenticationError(error)) finish(error);
    };
    // A TLS handshake refused (an unknown CA) is retried by the client until the timeout, with only
    // "ssl error" in its error events: its log line names the reason, so fail on that at once.
    const onLog = (log: ClientLog) => {
      const failure = tlsHandshakeFailure(log.message ?? '');
      if (failure !== undefined) finish(tlsError(failure, what, brokers));
    };
    client.on('event.error', onError);
    client.on('event.log', onLog);
    // The client delivers its events only once connected, so a refused password would otherwise surface
    // as a plain transport failure at the timeout: poll its event queue while the connection is pending.
    const native = (client as { _client?: { poll?: () => void } })._client;
    const poller = setInterval(() => {
      try {
        native?.poll?.();
      } catch {
        // Polling before the handle is ready is harmless; the next tick tries again.
      }
    }, 100);
    const done = finish;
    finish = (error?: unknown) => {
      clearInterval(poller);
      done(error);
    };
    client.connect({ timeout: timeoutMs }, (error) => finish(error ?? undefined));
  });
}

/** Calls a callback-style client method as a promise. */
export function call<T>(
  fn: (cb: (error: ClientError | null | undefined, value: T) => void) => unknown,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    fn((error, value) => (error ? reject(error) : resolve(value)));
  });
}
