import { readFileSync } from 'node:fs';
import { InvalidOptionError } from '@ticketflow/core';

/** SASL mechanisms the client supports. */
export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
/** One of {@link SASL_MECHANISMS}. */
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** SASL credentials. The password never appears in a log line or an error message. */
export interface SaslOptions {
  /** The mechanism, as the broker names it (case-insensitive): `plain`, `scram-sha-256`, `scram-sha-512`. */
  readonly mechanism: SaslMechanism;
  /** The user name. */
  readonly username: string;
  /** The password. */
  readonly password: string;
}

/** TLS settings. */
export interface TlsOptions {
  /** The CA certificate that signed the brokers' certificates: a PEM file path or PEM text. Default: the system's. */
  readonly ca?: string;
  /** Check the brokers' certificates and host names. Default true. */
  readonly verify?: boolean;
}

/**
 * How to reach a Kafka or Redpanda cluster: brokers, SASL and TLS. Redpanda Cloud takes
 * `{ sasl: { mechanism: 'scram-sha-256', ... }, tls: true }`.
 */
export interface KafkaConnectionOptions {
  /** Bootstrap brokers, `host:port`, as a list or a comma-separated string. */
  readonly brokers: string | readonly string[];
  /** SASL authentication. Default: none. */
  readonly sasl?: SaslOptions;
  /** TLS: `true` for the system's CAs, or settings. Default: plaintext. */
  readonly tls?: boolean | TlsOptions;
  /** The client id brokers see in their logs. Default `'ticketflow'`. */
  readonly clientId?: string;
  /** How long to wait for the first connection before failing, in ms. Default 15 000. */
  readonly connectTimeoutMs?: number;
  /** Extra librdkafka properties, applied last. */
  readonly librdkafka?: Readonly<Record<string, string | number | boolean>>;
}

/** Checks the options and turns them into librdkafka properties. Throws {@link InvalidOptionError} naming the field. */
export function librdkafkaConfig(options: KafkaConnectionOptions): Record<string, string | number | boolean> {
  const brokers = (typeof options.brokers === 'string' ? options.brokers.split(',') : [...options.brokers])
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  if (brokers.length === 0) throw new InvalidOptionError('brokers must list at least one host:port');
  for (const broker of brokers) {
    if (!/^[^\s:/]+:\d{1,5}$/.test(broker) && !/^\[[0-9a-f:]+\]:\d{1,5}$/i.test(broker)) {
      throw new InvalidOptionError(`brokers must be host:port, got ${JSON.stringify(broker)}`);
    }
  }
  const config: Record<string, string | number | boolean> = {
    'bootstrap.servers': brokers.join(','),
    'client.id': options.clientId ?? 'ticketflow',
    // librdkafka logs through the client's event emitter, not to stderr, so nothing leaks credentials.
    log_level: 3,
  };
  const tls = options.tls === true ? {} : options.tls === false ? undefined : options.tls;
  if (options.sasl) {
    const mechanism = options.sasl.mechanism.toLowerCase();
    if (!(SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
      throw new InvalidOptionError(
        `sasl mechanism must be one of ${SASL_MECHANISMS.join(', ')}, got ${JSON.stringify(options.sasl.mechanism)}`,
      );
    }
    if (!options.sasl.username)
      throw new InvalidOptionError('sasl username is required with a SASL mechanism');
    if (!options.sasl.password)
      throw new InvalidOptionError('sasl password is required with a SASL mechanism');
    config['security.protocol'] = tls ? 'sasl_ssl' : 'sasl_plaintext';
    config['sasl.mechanisms'] = mechanism.toUpperCase();
    config['sasl.username'] = options.sasl.username;
    config['sasl.password'] = options.sasl.password;
  } else {
    config['security.protocol'] = tls ? 'ssl' : 'plaintext';
  }
  if (tls) {
    if (tls.ca !== undefined) {
      if (tls.ca.includes('-----BEGIN')) config['ssl.ca.pem'] = tls.ca;
      else {
        try {
          readFileSync(tls.ca);
        } catch {
          throw new InvalidOptionError(`ssl CA file not readable: ${tls.ca}`);
        }
        config['ssl.ca.location'] = tls.ca;
      }
    }
    if (tls.verify === false) {
      config['enable.ssl.certificate.verification'] = false;
      config['ssl.endpoint.identification.algorithm'] = 'none';
    }
  }
  return { ...config, ...options.librdkafka };
}

/** The secrets of a connection, for log scrubbing. */
export function connectionSecrets(options: KafkaConnectionOptions): string[] {
  return options.sasl?.password ? [options.sasl.password] : [];
}
