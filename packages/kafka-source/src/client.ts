import { createRequire } from 'node:module';
import { TicketflowError } from '@ticketflow/core';
import { type ClientError, fromClientError, isAuthenticationError } from './kafka-errors';

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

interface Connectable {
  connect(options: { timeout: number }, cb: (error: ClientError | null) => void): unknown;
  on(event: 'event.error', listener: (error: ClientError) => void): unknown;
  removeListener(event: 'event.error', listener: (error: ClientError) => void): unknown;
}

/**
 * Connects a client, failing at once with `AUTHENTICATION_FAILED` when the brokers refuse the
 * credentials, or with `BROKER_UNREACHABLE` once `timeoutMs` has passed without a connection.
 */
export function connectClient(
  client: Connectable,
  brokers: string,
  timeoutMs: number,
  what: string,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      client.removeListener('event.error', onError);
      if (error === undefined) resolve();
      else reject(fromClientError(error, what, brokers));
    };
    const onError = (error: ClientError) => {
      if (isAuthenticationError(error)) finish(error);
    };
    client.on('event.error', onError);
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
