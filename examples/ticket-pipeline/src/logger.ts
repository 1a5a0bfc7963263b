import { pino } from 'pino';

/** Log levels, from the most to the least verbose. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Log formats: readable lines, or one JSON object per line. */
export const LOG_FORMATS = ['text', 'json'] as const;
/** One of {@link LOG_FORMATS}. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Structured fields of a log line. */
export type LogFields = Record<string, unknown>;

/** The pipeline's logger. Every message and field passes through the secret scrubber. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** True when `level` would be written. */
  enabled(level: LogLevel): boolean;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** The least severe level written. Default `'info'`. */
  readonly level?: LogLevel;
  /** `'text'` (default) or `'json'`. */
  readonly format?: LogFormat;
  /**
   * Values that must never be written (passwords, keys): replaced by `[REDACTED]` as
   * {@link secretScrubber} says; fields named like secrets (`password`, `secret`, `token`...) are
   * redacted whatever their value. The {@link ambientSecrets} of the process are always added.
   */
  readonly secrets?: readonly string[];
  /** Where lines go. Default: standard error. */
  readonly write?: (line: string) => void;
}

const RANK: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50, silent: 100 };
const SECRET_KEYS = /pass(word)?|secret|token|credential|sasl\.password|authorization/i;
const REDACTED = '[REDACTED]';

/** Environment variables whose values are secrets wherever they appear. */
export const SECRET_VARIABLES = [
  'KAFKA_SASL_PASSWORD',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
] as const;

/** Command-line flags whose values are secrets. */
const SECRET_FLAGS = ['--sasl-password'] as const;

/**
 * The secrets a process was given: the values of {@link SECRET_VARIABLES} and of `--sasl-password`
 * (`--sasl-password VALUE` or `--sasl-password=VALUE`). The logger and the CLI's error line remove them.
 */
export function ambientSecrets(
  argv: readonly string[] = process.argv,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const out: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const value = env[name];
    if (value) out.push(value);
  }
  for (const [i, arg] of argv.entries()) {
    for (const flag of SECRET_FLAGS) {
      if (arg === flag && argv[i + 1]) out.push(argv[i + 1] as string);
      else if (arg.startsWith(`${flag}=`) && arg.length > flag.length + 1)
        out.push(arg.slice(flag.length + 1));
    }
  }
  return out;
}

/**
 * The shortest secret removed wherever it occurs inside a text. A shorter one (`test`, `admin`) cannot be
 * told from ordinary words and paths (`/tmp/prototest`), so it is removed only where a whole value
 * equals it.
 */
export const MIN_EMBEDDED_SECRET_LENGTH = 8;

/**
 * Builds a function that removes secrets from a string: every occurrence of a secret of at least
 * {@link MIN_EMBEDDED_SECRET_LENGTH} characters, and a shorter secret where it is the whole string.
 * Unrelated text is left as it is.
 */
export function secretScrubber(secrets: readonly string[]): (text: string) => string {
  const present = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (present.length === 0) return (text) => text;
  const embedded = present.filter((s) => s.length >= MIN_EMBEDDED_SECRET_LENGTH);
  const exact = new Set(present.filter((s) => s.length < MIN_EMBEDDED_SECRET_LENGTH));
  return (text) => {
    if (exact.has(text)) return REDACTED;
    let out = text;
    for (const secret of embedded) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  };
}

function scrubValue(value: unknown, scrub: (text: string) => string, depth: number): unknown {
  if (typeof value === 'string') return scrub(value);
  if (value instanceof Error) return scrub(value.message);
  if (value === null || typeof value !== 'object') return value;
  // Deep structures are cut short; key-named secrets are redacted at every depth above.
  if (depth > 4) return '[…]';
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, scrub, depth + 1));
  return scrubFields(value as LogFields, scrub, depth + 1);
}

function scrubFields(fields: LogFields, scrub: (text: string) => string, depth = 0): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = SECRET_KEYS.test(key) ? REDACTED : scrubValue(value, scrub, depth);
  }
  return out;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s="]/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/**
 * Creates the logger: readable lines by default (`2026-01-01T10:00:00.000Z INFO message key=value`),
 * JSON lines through pino with `format: 'json'`. Secrets are removed in both.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const scrub = secretScrubber([...(options.secrets ?? []), ...ambientSecrets()]);
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const threshold = RANK[level];
  const enabled = (l: LogLevel) => RANK[l] >= threshold && l !== 'silent';

  if (options.format === 'json') {
    const json = pino(
      { level, base: { name: 'ticketflow' }, timestamp: pino.stdTimeFunctions.isoTime },
      { write: (line: string) => write(line) },
    );
    const emit = (l: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) => {
      if (!enabled(l)) return;
      json[l](fields ? scrubFields(fields, scrub) : {}, scrub(message));
    };
    return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), enabled };
  }

  const emit = (l: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) => {
    if (!enabled(l)) return;
    let line = `${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} ${scrub(message)}`;
    if (fields) {
      for (const [key, value] of Object.entries(scrubFields(fields, scrub)))
        line += ` ${key}=${formatValue(value)}`;
    }
    write(`${line}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), enabled };
}
