import { parseArgs } from 'node:util';
import { InvalidOptionError, toMilliseconds } from '@ticketflow/core';
import { BATCH_LAYOUTS, type BatchLayout } from '@ticketflow/json-sink';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './logger';

/** How a setting's text is checked and converted. */
type Kind =
  | 'string'
  | 'duration'
  | 'count'
  | 'rate'
  | 'fraction'
  | 'port'
  | 'boolean'
  | 'level'
  | 'format'
  | 'layout'
  | 'host'
  | 'start'
  | 'dataLoss';

interface Setting {
  readonly kind: Kind;
  /** Environment variables read when the flag is absent, first match wins. */
  readonly env?: readonly string[];
  readonly default?: string;
}

const COMMON = {
  'log-level': { kind: 'level', env: ['TICKETFLOW_LOG_LEVEL', 'LOG_LEVEL'], default: 'info' },
  'log-format': { kind: 'format', env: ['TICKETFLOW_LOG_FORMAT', 'LOG_FORMAT'], default: 'text' },
  help: { kind: 'boolean' },
} as const satisfies Record<string, Setting>;

const KAFKA = {
  brokers: { kind: 'string', env: ['KAFKA_BROKERS'] },
  topic: { kind: 'string', env: ['TICKETFLOW_TOPIC', 'KAFKA_TOPIC'], default: 'client_tickets' },
  'sasl-mechanism': { kind: 'string', env: ['KAFKA_SASL_MECHANISM'] },
  'sasl-username': { kind: 'string', env: ['KAFKA_SASL_USERNAME'] },
  'sasl-password': { kind: 'string', env: ['KAFKA_SASL_PASSWORD'] },
  ssl: { kind: 'boolean', env: ['KAFKA_SSL'] },
  'ssl-ca': { kind: 'string', env: ['KAFKA_SSL_CA'] },
} as const satisfies Record<string, Setting>;

const PROCESSING = {
  window: { kind: 'duration', env: ['TICKETFLOW_WINDOW'], default: '30s' },
  'max-records': { kind: 'count', env: ['TICKETFLOW_MAX_RECORDS'] },
  out: { kind: 'string', env: ['TICKETFLOW_OUT'], default: './ticket_metrics_json' },
  checkpoint: { kind: 'string', env: ['TICKETFLOW_CHECKPOINT'] },
  'dead-letters': { kind: 'string', env: ['TICKETFLOW_DEAD_LETTERS'] },
  layout: { kind: 'layout', env: ['TICKETFLOW_LAYOUT'], default: 'flat' },
  gzip: { kind: 'boolean', env: ['TICKETFLOW_GZIP'] },
  'http-port': { kind: 'port', env: ['TICKETFLOW_HTTP_PORT'] },
  'http-host': { kind: 'host', env: ['TICKETFLOW_HTTP_HOST'], default: '127.0.0.1' },
  'sink-retry-for': { kind: 'duration', env: ['TICKETFLOW_SINK_RETRY_FOR'] },
  'lease-ttl': { kind: 'duration', env: ['TICKETFLOW_LEASE_TTL'], default: '30s' },
} as const satisfies Record<string, Setting>;

/** Every command's settings. */
export const COMMANDS = {
  run: {
    summary: 'run the embedded pipeline: in-process generator, no broker (until Ctrl-C)',
    settings: {
      ...COMMON,
      ...PROCESSING,
      rate: { kind: 'rate', env: ['TICKETFLOW_RATE'], default: '200' },
      seed: { kind: 'count', env: ['TICKETFLOW_SEED'] },
      'bad-fraction': { kind: 'fraction', env: ['TICKETFLOW_BAD_FRACTION'], default: '0' },
    },
  },
  process: {
    summary: 'process tickets from Kafka (--brokers) or a JSON Lines file (--input FILE|-)',
    settings: {
      ...COMMON,
      ...PROCESSING,
      ...KAFKA,
      input: { kind: 'string', env: ['TICKETFLOW_INPUT'] },
      group: { kind: 'string', env: ['TICKETFLOW_GROUP', 'KAFKA_GROUP'], default: 'ticketflow' },
      'dead-letter-topic': { kind: 'string', env: ['TICKETFLOW_DEAD_LETTER_TOPIC'] },
      'start-from': { kind: 'start', env: ['TICKETFLOW_START_FROM'], default: 'earliest' },
      'instance-id': { kind: 'string', env: ['TICKETFLOW_INSTANCE_ID'] },
      'on-data-loss': { kind: 'dataLoss', env: ['TICKETFLOW_ON_DATA_LOSS'], default: 'fail' },
    },
  },
  produce: {
    summary: 'produce synthetic tickets to Kafka at --rate per second, or --count then exit',
    settings: {
      ...COMMON,
      ...KAFKA,
      rate: { kind: 'rate', env: ['TICKETFLOW_RATE'], default: '200' },
      count: { kind: 'count', env: ['TICKETFLOW_COUNT'] },
      seed: { kind: 'count', env: ['TICKETFLOW_SEED'] },
      'bad-fraction': { kind: 'fraction', env: ['TICKETFLOW_BAD_FRACTION'], default: '0' },
    },
  },
  generate: {
    summary: 'write --count synthetic tickets as JSON Lines to standard output',
    settings: {
      ...COMMON,
      count: { kind: 'count', env: ['TICKETFLOW_COUNT'] },
      seed: { kind: 'count', env: ['TICKETFLOW_SEED'] },
      'bad-fraction': { kind: 'fraction', env: ['TICKETFLOW_BAD_FRACTION'], default: '0' },
    },
  },
} as const;

/** A command name. */
export type CommandName = keyof typeof COMMANDS;

type ValueOf<K extends Kind> = K extends 'duration' | 'count' | 'rate' | 'fraction' | 'port'
  ? number
  : K extends 'boolean'
    ? boolean
    : K extends 'level'
      ? LogLevel
      : K extends 'format'
        ? LogFormat
        : K extends 'layout'
          ? BatchLayout
          : K extends 'start'
            ? 'earliest' | 'latest'
            : K extends 'dataLoss'
              ? 'fail' | 'continue'
              : string;

type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;

type SettingValue<S> = S extends { kind: infer K extends Kind }
  ? S extends { default: string }
    ? ValueOf<K>
    : ValueOf<K> | undefined
  : never;

type SettingsOf<T> = { -readonly [K in keyof T as Camel<K & string>]: SettingValue<T[K]> };

/** The validated settings of a command, in camelCase; a setting without value or default is `undefined`. */
export type Settings<C extends CommandName> = SettingsOf<(typeof COMMANDS)[C]['settings']>;

const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function convert(flag: string, kind: Kind, text: string, from: string): unknown {
  const bad = (expected: string) =>
    new InvalidOptionError(`${from} must be ${expected}, got ${JSON.stringify(text)}`);
  switch (kind) {
    case 'string':
      if (text.length === 0) throw bad('a non-empty value');
      return text;
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off|)$/i.test(text)) return false;
      throw bad('true or false');
    case 'duration':
      // Refuses a malformed span and one longer than a timer can wait, naming the flag or variable.
      return toMilliseconds(text, from);
    case 'count': {
      const n = Number(text);
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw bad('a whole number');
      return n;
    }
    case 'rate': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw bad('a positive number per second');
      return n;
    }
    case 'fraction': {
      const n = Number(text);
      if (text.trim() === '' || !(n >= 0 && n <= 1)) throw bad('a fraction between 0 and 1');
      return n;
    }
    case 'port': {
      const n = Number(text);
      if (!/^\d+$/.test(text) || n > 65535) throw bad('a TCP port from 0 to 65535');
      return n;
    }
    case 'level':
      if (!(LOG_LEVELS as readonly string[]).includes(text)) throw bad(`one of ${LOG_LEVELS.join(', ')}`);
      return text;
    case 'format':
      if (!(LOG_FORMATS as readonly string[]).includes(text)) throw bad(`one of ${LOG_FORMATS.join(', ')}`);
      return text;
    case 'layout':
      if (!(BATCH_LAYOUTS as readonly string[]).includes(text))
        throw bad(`one of ${BATCH_LAYOUTS.join(', ')}`);
      return text;
    case 'host':
      // A host name, an IPv4 address or a bare IPv6 address: no scheme, port, path or spaces.
      if (!/^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$/.test(text))
        throw bad('a host name or IP address to listen on, such as 0.0.0.0 or 127.0.0.1');
      return text;
    case 'start':
      if (text !== 'earliest' && text !== 'latest') throw bad('earliest or latest');
      return text;
    case 'dataLoss':
      if (text !== 'fail' && text !== 'continue') throw bad('fail or continue');
      return text;
    default:
      throw new InvalidOptionError(`unknown setting kind for --${flag}`);
  }
}

/**
 * Reads a command's settings from its flags, then the environment, then the defaults, and validates
 * each: a bad value throws an {@link InvalidOptionError} whose one-line message names the flag or the
 * variable.
 */
export function readSettings<C extends CommandName>(
  command: C,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Settings<C> {
  const settings = COMMANDS[command].settings as Record<string, Setting>;
  const flags = Object.fromEntries(
    Object.entries(settings).map(([name, s]) => [
      name,
      { type: s.kind === 'boolean' ? 'boolean' : 'string' },
    ]),
  ) as Record<string, { type: 'string' | 'boolean' }>;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options: flags, strict: true, allowPositionals: false });
  } catch (error) {
    throw new InvalidOptionError(`${(error as Error).message.split('\n')[0]} (see --help)`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(settings)) {
    const given = parsed.values[name];
    let text: string | undefined;
    let from = `--${name}`;
    if (given !== undefined) {
      text = typeof given === 'boolean' ? String(given) : String(given);
    } else {
      for (const variable of setting.env ?? []) {
        const value = env[variable];
        if (value !== undefined && value !== '') {
          text = value;
          from = variable;
          break;
        }
      }
    }
    text ??= setting.default;
    if (text === undefined) continue;
    out[camel(name)] = convert(name, setting.kind, text, from);
  }
  return out as Settings<C>;
}

/** The usage text of one command, or of every command. */
export function usage(command?: CommandName): string {
  const names = command ? [command] : (Object.keys(COMMANDS) as CommandName[]);
  const lines = ['usage: pnpm ticket-pipeline <command> [flags]', ''];
  for (const name of names) {
    lines.push(`  ${name.padEnd(9)} ${COMMANDS[name].summary}`);
    if (command) {
      for (const [flag, s] of Object.entries(COMMANDS[name].settings as Record<string, Setting>)) {
        const env = s.env?.length ? ` (env ${s.env.join(', ')})` : '';
        const def = s.default !== undefined ? ` [default ${s.default}]` : '';
        lines.push(`      --${flag}${s.kind === 'boolean' ? '' : ' VALUE'}${def}${env}`);
      }
    }
  }
  return lines.join('\n');
}
