import { describeValue, firstLine, TicketflowError } from '@ticketflow/core';

/** The shape of the client's errors. */
export interface ClientError {
  readonly message?: string;
  readonly code?: number;
  readonly isFatal?: boolean;
  readonly isRetriable?: boolean;
  readonly fatal?: boolean;
  readonly retriable?: boolean;
}

/** librdkafka error codes ticketflow reacts to. */
export const RDKAFKA = {
  AUTHENTICATION: -169,
  ALL_BROKERS_DOWN: -187,
  TRANSPORT: -195,
  TIMED_OUT: -185,
  UNKNOWN_TOPIC: -188,
  UNKNOWN_PARTITION: -190,
  ASSIGN_PARTITIONS: -175,
  REVOKE_PARTITIONS: -174,
  UNKNOWN_TOPIC_OR_PART: 3,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  SASL_AUTHENTICATION_FAILED: 58,
  MSG_SIZE_TOO_LARGE: 10,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  MSG_TIMED_OUT: -192,
  QUEUE_FULL: -184,
} as const;

/**
 * The librdkafka error code of an error: the client error's own `code`, or that of the client error a
 * {@link TicketflowError} wraps as its `cause`. `undefined` when there is none.
 */
export function clientErrorCode(error: unknown): number | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 3 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True when a client error says a topic's access was refused (ACLs): retrying cannot help. */
export function isAuthorizationError(error: unknown): boolean {
  const code = clientErrorCode(error);
  return (
    code === RDKAFKA.TOPIC_AUTHORIZATION_FAILED ||
    code === RDKAFKA.CLUSTER_AUTHORIZATION_FAILED ||
    code === RDKAFKA.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
  );
}

/**
 * When a librdkafka log line (an `event.log` message) reports a failed TLS handshake, the failure with
 * its volatile parts removed, such as `SSL handshake failed: error:0A000086:SSL routines::certificate
 * verify failed: broker certificate could not be verified, …`; else `undefined`.
 */
export function tlsHandshakeFailure(logMessage: string): string | undefined {
  const at = logMessage.indexOf('SSL handshake failed');
  if (at === -1) return undefined;
  return firstLine(logMessage.slice(at))
    .replace(/\s*\(after \d+ms in state [A-Z_]+(?:, \d+ identical error\(s\) suppressed)?\)\s*$/, '')
    .trim();
}

/**
 * The one-line error of a refused TLS handshake (see {@link tlsHandshakeFailure}): when the brokers'
 * certificate failed verification, it names that and the fix (the CA that signed it: `tls.ca`, or
 * `KAFKA_SSL_CA` / `--ssl-ca` for the ticket-pipeline command); any other handshake failure names the
 * client's reason. Code `AUTHENTICATION_FAILED` (the brokers could not be authenticated), not
 * retriable, fatal: retrying with the same settings fails the same way.
 */
export function tlsError(failure: string, context: string, brokers: string): TicketflowError {
  const flags = { retriable: false, fatal: true };
  if (/certificate verify failed|certificate could not be verified/i.test(failure)) {
    const why = /self[- ]signed/i.test(failure)
      ? 'a self-signed certificate'
      : 'not signed by a CA this client trusts, or not issued for this host name';
    return new TicketflowError(
      'AUTHENTICATION_FAILED',
      `${context}: TLS certificate verification failed for the brokers at ${brokers} (${why}): give the CA that signed their certificate with KAFKA_SSL_CA or --ssl-ca (tls.ca in code)`,
      flags,
    );
  }
  return new TicketflowError(
    'AUTHENTICATION_FAILED',
    `${context}: the TLS handshake with the brokers at ${brokers} failed (${failure}): check that this port serves TLS and the TLS settings`,
    flags,
  );
}

/** True when a client error says the credentials were refused. */
export function isAuthenticationError(error: ClientError): boolean {
  return (
    error.code === RDKAFKA.AUTHENTICATION ||
    error.code === RDKAFKA.SASL_AUTHENTICATION_FAILED ||
    /authentication|invalid credentials|SASL/i.test(error.message ?? '')
  );
}

/**
 * Turns a client error into a {@link TicketflowError} with a one-line message, keeping the client's
 * `retriable` and `fatal` flags. `context` says what was being done, such as `consuming client_tickets`.
 */
export function fromClientError(error: unknown, context: string, brokers: string): TicketflowError {
  if (error instanceof TicketflowError) return error;
  const e = (
    typeof error === 'object' && error !== null ? error : { message: describeValue(error) }
  ) as ClientError;
  const flags = {
    cause: error,
    retriable: e.isRetriable === true || e.retriable === true,
    fatal: e.isFatal === true || e.fatal === true,
  };
  const detail = firstLine(e.message ?? 'unknown error');
  if (isAuthenticationError(e)) {
    return new TicketflowError(
      'AUTHENTICATION_FAILED',
      `${context}: the brokers at ${brokers} refused the SASL credentials (check the user name, password and mechanism)`,
      { ...flags, fatal: true },
    );
  }
  if (e.code === RDKAFKA.ALL_BROKERS_DOWN || e.code === RDKAFKA.TRANSPORT || e.code === RDKAFKA.TIMED_OUT) {
    return new TicketflowError(
      'BROKER_UNREACHABLE',
      `${context}: cannot reach the brokers at ${brokers} (${detail})`,
      { ...flags, retriable: true },
    );
  }
  if (e.code === RDKAFKA.UNKNOWN_TOPIC || e.code === RDKAFKA.UNKNOWN_TOPIC_OR_PART) {
    return new TicketflowError('TOPIC_NOT_FOUND', `${context}: ${detail}`, flags);
  }
  return new TicketflowError('SOURCE_FAILED', `${context}: ${detail}`, flags);
}
