import { firstLine, TicketflowError } from '@ticketflow/core';

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
} as const;

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
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as ClientError;
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
