import { InvalidOptionError } from '@ticketflow/core';
import type { KafkaConnectionOptions, SaslMechanism } from '@ticketflow/kafka-source';

/** The broker settings every Kafka command takes (flags or `KAFKA_*` variables). */
export interface KafkaSettings {
  readonly brokers: string | undefined;
  readonly saslMechanism: string | undefined;
  readonly saslUsername: string | undefined;
  readonly saslPassword: string | undefined;
  readonly ssl: boolean | undefined;
  readonly sslCa: string | undefined;
}

/** Builds the connection options from the settings; a missing or inconsistent value is a one-line error. */
export function kafkaConnection(settings: KafkaSettings): KafkaConnectionOptions {
  if (settings.brokers === undefined)
    throw new InvalidOptionError('--brokers (or KAFKA_BROKERS) is required');
  const { saslMechanism, saslUsername, saslPassword } = settings;
  if ((saslUsername || saslPassword) && !saslMechanism) {
    throw new InvalidOptionError(
      '--sasl-mechanism (or KAFKA_SASL_MECHANISM) is required with SASL credentials',
    );
  }
  const tls =
    settings.ssl || settings.sslCa !== undefined
      ? settings.sslCa
        ? { ca: settings.sslCa }
        : true
      : undefined;
  return {
    brokers: settings.brokers,
    ...(saslMechanism
      ? {
          sasl: {
            mechanism: saslMechanism.toLowerCase() as SaslMechanism,
            username: saslUsername ?? '',
            password: saslPassword ?? '',
          },
        }
      : {}),
    ...(tls ? { tls } : {}),
  };
}
