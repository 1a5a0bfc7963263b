/**
 * Every error code ticketflow raises. Codes are stable: match on them, not on messages.
 */
export const ERROR_CODES = [
  'INVALID_OPTION',
  'INVALID_RECORD',
  'SOURCE_FAILED',
  'SINK_FAILED',
  'CHECKPOINT_FAILED',
  'CHECKPOINT_CONFLICT',
  'AUTHENTICATION_FAILED',
  'BROKER_UNREACHABLE',
  'TOPIC_NOT_FOUND',
  'DATA_LOSS',
  'INVALID_STATE',
  'STORAGE_NOT_FOUND',
  'ABORTED',
  'INTERNAL',
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Options accepted by {@link TicketflowError}. */
export interface TicketflowErrorOptions {
  /** The underlying error, kept for debugging. */
  readonly cause?: unknown;
  /** True when retrying the same operation may succeed (a broker restart, a throttled request). */
  readonly retriable?: boolean;
  /** True when the component cannot continue and must be recreated. */
  readonly fatal?: boolean;
}

/**
 * The base class of every error ticketflow throws. Messages are one line and never contain secrets.
 *
 * @example
 * ```ts
 * try { await pipeline.run(); } catch (error) {
 *   if (error instanceof TicketflowError && error.code === 'AUTHENTICATION_FAILED') process.exit(2);
 * }
 * ```
 */
export class TicketflowError extends Error {
  /** A stable, machine-readable code. */
  readonly code: ErrorCode;
  /** True when retrying the same operation may succeed. */
  readonly retriable: boolean;
  /** True when the component cannot continue. */
  readonly fatal: boolean;

  constructor(code: ErrorCode, message: string, options: TicketflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TicketflowError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.fatal = options.fatal ?? false;
  }
}

/** Thrown when an option or setting is out of its domain; the message names the option. */
export class InvalidOptionError extends TicketflowError {
  static readonly code = 'INVALID_OPTION' satisfies ErrorCode;
  constructor(message: string, options: TicketflowErrorOptions = {}) {
    super(InvalidOptionError.code, message, options);
    this.name = 'InvalidOptionError';
  }
}

/**
 * Wraps anything thrown at a boundary into a {@link TicketflowError}, keeping the original as `cause`
 * and its `retriable`/`fatal` flags when it has them.
 */
export function toTicketflowError(error: unknown, code: ErrorCode, context: string): TicketflowError {
  if (error instanceof TicketflowError) return error;
  const detail = error instanceof Error ? describeValue(error.message) : describeValue(error);
  const flags = (typeof error === 'object' && error !== null ? error : {}) as {
    retriable?: unknown;
    fatal?: unknown;
  };
  return new TicketflowError(code, `${context}: ${firstLine(detail)}`, {
    cause: error,
    retriable: flags.retriable === true,
    fatal: flags.fatal === true,
  });
}

/**
 * `String(value)` that never throws: a value whose conversion throws (an object whose `toString` is not
 * a function, a revoked proxy...) is described by its type tag, such as `[object Object]`. For
 * messages about values that came from outside: thrown by user code, decoded from a saved state.
 */
export function describeValue(value: unknown): string {
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return `[${typeof value}]`;
    }
  }
}

/** The first line of a message, so that every error prints on one line. */
export function firstLine(message: string): string {
  const end = message.indexOf('\n');
  return (end === -1 ? message : message.slice(0, end)).trim();
}
