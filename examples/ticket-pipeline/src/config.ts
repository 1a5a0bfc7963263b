import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { InvalidOptionError, toMilliseconds } from '@ticketflow/core';
import { BATCH_LAYOUTS } from '@ticketflow/json-sink';
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import { LOG_FORMATS, LOG_LEVELS } from './logger';

/**
 * The command line of `ticket-pipeline`: commands and flags are declared once here; commander parses
 * them (help, `--version`, did-you-mean), and one zod schema per command checks and converts the values.
 * Every flag has one environment variable, read when the flag is absent: `TICKETFLOW_*`, or the
 * documented `KAFKA_*` broker settings. A bad value is one line naming the flag or the variable, the
 * value given and what is allowed.
 *
 * @module
 */

/** How a setting's text is checked and converted. */
type Kind = keyof typeof KINDS;

const DURATION = 'a positive duration such as 500ms, 30s, 5m or 1h (at most 596h)';

/** The event-time rollups `--rollups` can turn on, in the order they are listed in the settings. */
export const ROLLUPS = ['hour', 'day'] as const;

/** One event-time rollup: final metrics per UTC hour or per UTC day of `created_at`. */
export type Rollup = (typeof ROLLUPS)[number];

/** Each kind of value: its placeholder in help, what it allows, and its zod schema. */
const KINDS = {
  string: { placeholder: 'value', allowed: 'a non-empty value' },
  path: { placeholder: 'path', allowed: 'a non-empty path' },
  boolean: { placeholder: '', allowed: 'true or false' },
  duration: { placeholder: 'duration', allowed: DURATION },
  lateness: { placeholder: 'duration', allowed: `0 or ${DURATION}` },
  rollups: { placeholder: 'list', allowed: 'none, or a comma-separated list of hour and day (hour,day)' },
  count: { placeholder: 'n', allowed: 'a whole number' },
  positive: { placeholder: 'n', allowed: 'a whole number of at least 1' },
  rate: { placeholder: 'per-second', allowed: 'a positive number per second' },
  fraction: { placeholder: 'fraction', allowed: 'a fraction between 0 and 1' },
  port: { placeholder: 'port', allowed: 'a TCP port from 0 to 65535' },
  level: { placeholder: 'level', allowed: `one of ${LOG_LEVELS.join(', ')}` },
  format: { placeholder: 'format', allowed: `one of ${LOG_FORMATS.join(', ')}` },
  layout: { placeholder: 'layout', allowed: `one of ${BATCH_LAYOUTS.join(', ')}` },
  host: {
    placeholder: 'host',
    allowed: 'a host name or IP address to listen on, such as 0.0.0.0 or 127.0.0.1',
  },
  start: { placeholder: 'position', allowed: 'earliest or latest' },
  dataLoss: { placeholder: 'action', allowed: 'fail or continue' },
} as const;

/** `must be …`: the part of an error that says what is allowed. */
const must = (kind: Kind) => `must be ${KINDS[kind].allowed}`;

const number = (kind: Kind) => z.number({ error: must(kind) });

/** A zero duration, in any unit: `0`, `0s`, `0.0m`. */
const ZERO = /^\s*0+(?:\.0+)?\s*(?:ms|s|m|h)?\s*$/;

/** A duration in milliseconds, from text such as `30s`; `zero` also allows a duration of 0. */
const durationSchema = (zero: boolean) =>
  z.string().transform((value, ctx) => {
    if (zero && ZERO.test(value)) return 0;
    try {
      return toMilliseconds(value, '');
    } catch (error) {
      // toMilliseconds names the value itself; keep only what it allows.
      const text = (error as Error).message;
      const message = text.slice(1, text.lastIndexOf(', got '));
      ctx.addIssue({
        code: 'custom',
        message: zero ? message.replace('must be a positive', 'must be 0 or a positive') : message,
      });
      return z.NEVER;
    }
  });

/** The zod schema of each kind of value, from the text of a flag or a variable. */
const SCHEMAS = {
  string: z.string().min(1, must('string')),
  path: z.string().min(1, must('path')),
  boolean: z.stringbool({
    truthy: ['1', 'true', 'yes', 'on'],
    falsy: ['0', 'false', 'no', 'off', ''],
    error: must('boolean'),
  }),
  duration: durationSchema(false),
  lateness: durationSchema(true),
  // `hour,day` in any order, repeats ignored, spaces around the names allowed; `none` (or nothing) for none.
  rollups: z.string().transform((text, ctx): readonly Rollup[] => {
    const names = text.split(',').map((name) => name.trim());
    if (names.length === 1 && (names[0] === 'none' || names[0] === '')) return [];
    if (!names.every((name) => (ROLLUPS as readonly string[]).includes(name))) {
      ctx.addIssue({ code: 'custom', message: must('rollups') });
      return z.NEVER;
    }
    return ROLLUPS.filter((rollup) => names.includes(rollup));
  }),
  count: z
    .string()
    .regex(/^\d+$/, must('count'))
    .transform(Number)
    .pipe(number('count').refine(Number.isSafeInteger, must('count'))),
  positive: z
    .string()
    .regex(/^\d+$/, must('positive'))
    .transform(Number)
    .pipe(number('positive').refine((n) => Number.isSafeInteger(n) && n >= 1, must('positive'))),
  rate: z
    .string()
    .trim()
    .min(1, must('rate'))
    .transform(Number)
    .pipe(number('rate').positive(must('rate')).finite(must('rate'))),
  fraction: z
    .string()
    .trim()
    .min(1, must('fraction'))
    .transform(Number)
    .pipe(number('fraction').min(0, must('fraction')).max(1, must('fraction'))),
  port: z
    .string()
    .regex(/^\d+$/, must('port'))
    .transform(Number)
    .pipe(number('port').max(65535, must('port'))),
  level: z.enum(LOG_LEVELS, { error: must('level') }),
  format: z.enum(LOG_FORMATS, { error: must('format') }),
  layout: z.enum(BATCH_LAYOUTS, { error: must('layout') }),
  // A host name, an IPv4 address or a bare IPv6 address: no scheme, port, path or spaces.
  host: z
    .string()
    .regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$/, must('host')),
  start: z.enum(['earliest', 'latest'], { error: must('start') }),
  dataLoss: z.enum(['fail', 'continue'], { error: must('dataLoss') }),
} as const satisfies Record<Kind, z.ZodType>;

/** One flag of a command. */
interface Setting {
  readonly kind: Kind;
  /** What the flag does, for `--help`. */
  readonly description: string;
  /** The environment variable read when the flag is absent. */
  readonly env: string;
  readonly default?: string;
}

const COMMON = {
  'log-level': {
    kind: 'level',
    description: 'least severe log level written to standard error',
    env: 'TICKETFLOW_LOG_LEVEL',
    default: 'info',
  },
  'log-format': {
    kind: 'format',
    description: 'log lines as text for people or JSON for a collector',
    env: 'TICKETFLOW_LOG_FORMAT',
    default: 'text',
  },
} as const satisfies Record<string, Setting>;

/** How to reach the brokers: every command that talks to Kafka takes these. */
const KAFKA_CONNECTION = {
  brokers: {
    kind: 'string',
    description: 'Kafka bootstrap servers, HOST:PORT[,HOST:PORT]',
    env: 'KAFKA_BROKERS',
  },
  'sasl-mechanism': {
    kind: 'string',
    description: 'SASL mechanism: plain, scram-sha-256 or scram-sha-512',
    env: 'KAFKA_SASL_MECHANISM',
  },
  'sasl-username': { kind: 'string', description: 'SASL user name', env: 'KAFKA_SASL_USERNAME' },
  'sasl-password': {
    kind: 'string',
    description: 'SASL password (never logged)',
    env: 'KAFKA_SASL_PASSWORD',
  },
  ssl: { kind: 'boolean', description: 'connect with TLS', env: 'KAFKA_SSL' },
  'ssl-ca': { kind: 'path', description: 'PEM file of the CA that signed the brokers', env: 'KAFKA_SSL_CA' },
} as const satisfies Record<string, Setting>;

/** The brokers and the topic of the tickets (`process`, `produce`). */
const { brokers, ...KAFKA_AUTH } = KAFKA_CONNECTION;
const KAFKA = {
  brokers,
  topic: {
    kind: 'string',
    description: 'topic of the tickets',
    env: 'TICKETFLOW_TOPIC',
    default: 'client_tickets',
  },
  ...KAFKA_AUTH,
} as const satisfies Record<string, Setting>;

/**
 * The topic of the partial aggregates (see "Scale-out" in the design): `process --partials-topic` writes
 * each micro-batch's partial there, in one Kafka transaction with its offsets, instead of files; `merge`
 * reads them (committed only) and writes the files.
 */
const PARTIALS_TOPIC = {
  kind: 'string',
  description:
    'topic of the partial aggregates: process produces each batch there instead of writing files (needs --instance-id); merge reads it',
  env: 'TICKETFLOW_PARTIALS_TOPIC',
} as const satisfies Setting;

/** A static group member id; with `--partials-topic`, also what names the processor's Kafka transactions. */
const INSTANCE_ID = {
  kind: 'string',
  description:
    'static group member id (faster rebalances on restart); with --partials-topic, the stable id of this partial processor (its transactional id)',
  env: 'TICKETFLOW_INSTANCE_ID',
} as const satisfies Setting;

const ON_DATA_LOSS = {
  kind: 'dataLoss',
  description: 'when records were deleted before they were read: stop, or record the gap and go on',
  env: 'TICKETFLOW_ON_DATA_LOSS',
  default: 'fail',
} as const satisfies Setting;

/**
 * The flags of `process` that only a processor writing files uses: with `--partials-topic` it writes none
 * (the merge writes them), so these are refused when given on the command line. Their variables are
 * ignored instead, since one environment is often shared by the partial processors and the merge.
 */
export const FILE_ONLY_FLAGS = [
  'out',
  'checkpoint',
  'dead-letters',
  'layout',
  'gzip',
  'lease-ttl',
  'sink-retry-for',
] as const;

const PROCESSING = {
  window: {
    kind: 'duration',
    description: 'span of a micro-batch (processing time)',
    env: 'TICKETFLOW_WINDOW',
    default: '30s',
  },
  'max-records': {
    kind: 'positive',
    description: 'closes a micro-batch once it has read this many records',
    env: 'TICKETFLOW_MAX_RECORDS',
  },
  out: {
    kind: 'path',
    description: 'output folder, or s3://bucket/prefix',
    env: 'TICKETFLOW_OUT',
    default: './ticket_metrics_json',
  },
  checkpoint: {
    kind: 'path',
    description: 'checkpoint folder or s3:// location (default: <out>/_checkpoint/)',
    env: 'TICKETFLOW_CHECKPOINT',
  },
  'dead-letters': {
    kind: 'path',
    description: 'JSON Lines file of invalid records (default: <out>/_dead_letters.jsonl)',
    env: 'TICKETFLOW_DEAD_LETTERS',
  },
  layout: {
    kind: 'layout',
    description: 'batch file names: flat, or hive partitions dt=/hour=',
    env: 'TICKETFLOW_LAYOUT',
    default: 'flat',
  },
  gzip: { kind: 'boolean', description: 'gzip-compress the batch files', env: 'TICKETFLOW_GZIP' },
  'http-port': {
    kind: 'port',
    description: 'port of /healthz, /readyz and /metrics (0: any free port; none when absent)',
    env: 'TICKETFLOW_HTTP_PORT',
  },
  'http-host': {
    kind: 'host',
    description: 'interface the HTTP port listens on',
    env: 'TICKETFLOW_HTTP_HOST',
    default: '127.0.0.1',
  },
  'sink-retry-for': {
    kind: 'duration',
    description: 'how long a failing write of a batch is retried before the processor stops',
    env: 'TICKETFLOW_SINK_RETRY_FOR',
  },
  'lease-ttl': {
    kind: 'duration',
    description: "how long the output's lease lasts without renewal",
    env: 'TICKETFLOW_LEASE_TTL',
    default: '30s',
  },
} as const satisfies Record<string, Setting>;

/**
 * The event-time rollups (see "Event-time rollups" in the design): every command that folds tickets into
 * metrics files takes them (`process`, `run`, and the merge of partial aggregates).
 */
const EVENT_TIME = {
  rollups: {
    kind: 'rollups',
    description: 'event-time rollups to write once final: <out>/hourly/dt=…/hour=…/ and <out>/daily/dt=…/',
    env: 'TICKETFLOW_ROLLUPS',
    default: 'none',
  },
  'allowed-lateness': {
    kind: 'lateness',
    description:
      "how far the newest created_at must pass an hour's or day's end before its rollup is final (the watermark's lag)",
    env: 'TICKETFLOW_ALLOWED_LATENESS',
    default: '10m',
  },
  'idle-timeout': {
    kind: 'duration',
    description: "a lane (partition) without records for this long stops holding the rollups' watermark back",
    env: 'TICKETFLOW_IDLE_TIMEOUT',
    default: '1m',
  },
} as const satisfies Record<string, Setting>;

const QUIET = {
  quiet: {
    kind: 'boolean',
    description: 'no progress bar or progress lines on standard error',
    env: 'TICKETFLOW_QUIET',
  },
} as const satisfies Record<string, Setting>;

const GENERATED = {
  seed: {
    kind: 'count',
    description: 'seed of the ticket generator (same seed, same tickets)',
    env: 'TICKETFLOW_SEED',
  },
  'bad-fraction': {
    kind: 'fraction',
    description: 'share of deliberately invalid tickets',
    env: 'TICKETFLOW_BAD_FRACTION',
    default: '0',
  },
} as const satisfies Record<string, Setting>;

/**
 * When the embedded generator's tickets were created relative to their arrival (`run`); the defaults are
 * the generator's own (`ArrivalOptions` in ./domain/generator.ts, not imported: it loads Faker).
 */
const ARRIVALS = {
  'late-fraction': {
    kind: 'fraction',
    description: 'share of tickets that arrive minutes late (created 1 to 30 min earlier)',
    env: 'TICKETFLOW_LATE_FRACTION',
    default: '0.05',
  },
  'very-late-fraction': {
    kind: 'fraction',
    description: 'share of tickets that arrive hours late (created 1 to 6 h earlier)',
    env: 'TICKETFLOW_VERY_LATE_FRACTION',
    default: '0.005',
  },
} as const satisfies Record<string, Setting>;

const RATE = {
  kind: 'rate',
  description: 'tickets per second',
  env: 'TICKETFLOW_RATE',
  default: '200',
} as const satisfies Setting;

/** Every command: what it does, and its flags. */
export const COMMANDS = {
  run: {
    summary: 'run the embedded pipeline: in-process generator, no broker (until Ctrl-C)',
    settings: { ...PROCESSING, ...EVENT_TIME, rate: RATE, ...GENERATED, ...ARRIVALS, ...COMMON },
  },
  process: {
    summary: 'process tickets from Kafka (--brokers) or a JSON Lines file (--input FILE|-)',
    settings: {
      input: {
        kind: 'path',
        description: 'JSON Lines file to process, or - for standard input (instead of --brokers)',
        env: 'TICKETFLOW_INPUT',
      },
      ...KAFKA,
      group: {
        kind: 'string',
        description: 'Kafka consumer group',
        env: 'TICKETFLOW_GROUP',
        default: 'ticketflow',
      },
      'dead-letter-topic': {
        kind: 'string',
        description: 'topic of invalid records (default: <topic>.dlq)',
        env: 'TICKETFLOW_DEAD_LETTER_TOPIC',
      },
      'start-from': {
        kind: 'start',
        description: 'where a new consumer group starts',
        env: 'TICKETFLOW_START_FROM',
        default: 'earliest',
      },
      'instance-id': INSTANCE_ID,
      'on-data-loss': ON_DATA_LOSS,
      'partials-topic': PARTIALS_TOPIC,
      workers: {
        kind: 'positive',
        description:
          'threads that decode and fold the tickets (1: the main thread only; default: one per core for --input of 32 MiB or more or -, 1 otherwise)',
        env: 'TICKETFLOW_WORKERS',
      },
      ...PROCESSING,
      ...EVENT_TIME,
      ...QUIET,
      ...COMMON,
    },
  },
  merge: {
    summary:
      'merge the partial aggregates of several `process --partials-topic` processors into the metrics files',
    settings: {
      ...KAFKA_CONNECTION,
      'partials-topic': PARTIALS_TOPIC,
      group: {
        kind: 'string',
        description: "Kafka consumer group of the merge (not the partial processors' group)",
        env: 'TICKETFLOW_MERGE_GROUP',
        default: 'ticketflow-merge',
      },
      'instance-id': {
        kind: 'string',
        description: 'static group member id (faster rebalances on restart)',
        env: 'TICKETFLOW_MERGE_INSTANCE_ID',
      },
      'on-data-loss': ON_DATA_LOSS,
      ...PROCESSING,
      ...EVENT_TIME,
      ...QUIET,
      ...COMMON,
    },
  },
  produce: {
    summary: 'produce synthetic tickets to Kafka at --rate per second, or --count then exit',
    settings: {
      ...KAFKA,
      rate: RATE,
      count: { kind: 'count', description: 'tickets to produce, then exit', env: 'TICKETFLOW_COUNT' },
      ...GENERATED,
      ...COMMON,
    },
  },
  generate: {
    summary: 'write --count synthetic tickets as JSON Lines to standard output',
    settings: {
      count: { kind: 'count', description: 'tickets to write (required)', env: 'TICKETFLOW_COUNT' },
      ...GENERATED,
      ...QUIET,
      ...COMMON,
    },
  },
} as const satisfies Record<string, { summary: string; settings: Record<string, Setting> }>;

/** A command name. */
export type CommandName = keyof typeof COMMANDS;

type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

type FieldsOf<T> = {
  -readonly [K in keyof T as Camel<K & string>]: T[K] extends { kind: infer K2 extends Kind }
    ? T[K] extends { default: string }
      ? (typeof SCHEMAS)[K2]
      : z.ZodOptional<(typeof SCHEMAS)[K2]>
    : never;
};

function fieldsOf<C extends CommandName>(command: C): FieldsOf<(typeof COMMANDS)[C]['settings']> {
  const settings = COMMANDS[command].settings as Record<string, Setting>;
  return Object.fromEntries(
    Object.entries(settings).map(([flag, s]) => [
      camel(flag),
      s.default === undefined ? SCHEMAS[s.kind].optional() : SCHEMAS[s.kind],
    ]),
  ) as FieldsOf<(typeof COMMANDS)[C]['settings']>;
}

/** What a local path names, if anything. */
function typeOf(path: string): 'file' | 'folder' | 'other' | undefined {
  try {
    const stat = statSync(path);
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'folder' : 'other';
  } catch {
    return undefined;
  }
}

/** A local output location must be a folder (or not exist yet): checked before any work starts. */
function outputIsFolder(settings: { out: string }, ctx: z.RefinementCtx): void {
  if (settings.out.startsWith('s3://')) return;
  const type = typeOf(settings.out);
  if (type !== undefined && type !== 'folder') {
    ctx.addIssue({
      code: 'custom',
      path: ['out'],
      message: 'must be a folder or s3://bucket/prefix',
      params: { given: `a ${type}` },
    });
  }
}

/** Where `process` reads its tickets: a file (or standard input), or a Kafka topic. */
const processSource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('file'), path: z.string() }),
  z.object({ kind: z.literal('kafka'), brokers: z.string() }),
]);

/** The source of `process`, from its `--input` or `--brokers`. */
export type ProcessSource = z.output<typeof processSource>;

/** One schema per command. */
const SCHEMA = {
  run: z
    .object(fieldsOf('run'))
    .superRefine(outputIsFolder)
    .superRefine((s, ctx) => {
      if (s.lateFraction + s.veryLateFraction > 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['veryLateFraction'],
          message: `plus the late fraction (${s.lateFraction}) must be at most 1`,
        });
      }
    }),
  generate: z.object(fieldsOf('generate')).superRefine((s, ctx) => {
    if (s.count === undefined) ctx.addIssue({ code: 'custom', message: 'generate needs --count N' });
  }),
  produce: z.object(fieldsOf('produce')),
  process: z
    .object(fieldsOf('process'))
    .superRefine(outputIsFolder)
    .superRefine((s, ctx) => {
      if (s.input !== undefined && s.brokers !== undefined) {
        ctx.addIssue({ code: 'custom', message: 'process takes --input or --brokers, not both' });
      } else if (s.input === undefined && s.brokers === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'process needs --brokers HOST:PORT (or KAFKA_BROKERS) or --input FILE',
        });
      } else if (s.input !== undefined && s.input !== '-' && typeOf(s.input) === 'folder') {
        ctx.addIssue({
          code: 'custom',
          path: ['input'],
          message: 'must be a file, or - for standard input',
          params: { given: 'a folder' },
        });
      } else if (s.workers !== undefined && s.partialsTopic !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message:
            'process takes --workers without --partials-topic: scale a partial stage out with more processors',
        });
      } else if (s.partialsTopic !== undefined && s.input !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'process takes --partials-topic with --brokers, not with --input',
        });
      } else if (s.partialsTopic !== undefined && s.instanceId === undefined) {
        // Zombie fencing needs an id that the restarted processor gives again: no random default.
        ctx.addIssue({
          code: 'custom',
          message:
            'process --partials-topic needs --instance-id ID (or TICKETFLOW_INSTANCE_ID), stable across restarts and different for each partial processor',
        });
      } else if (s.partialsTopic !== undefined && s.partialsTopic === s.topic) {
        ctx.addIssue({
          code: 'custom',
          message: `--partials-topic must differ from --topic, got ${JSON.stringify(s.topic)} for both`,
        });
      }
    })
    .transform((s) => ({
      ...s,
      source: processSource.parse(
        s.input !== undefined ? { kind: 'file', path: s.input } : { kind: 'kafka', brokers: s.brokers },
      ),
    })),
  merge: z
    .object(fieldsOf('merge'))
    .superRefine(outputIsFolder)
    .superRefine((s, ctx) => {
      if (s.brokers === undefined) {
        ctx.addIssue({ code: 'custom', message: 'merge needs --brokers HOST:PORT (or KAFKA_BROKERS)' });
      } else if (s.partialsTopic === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'merge needs --partials-topic TOPIC (or TICKETFLOW_PARTIALS_TOPIC)',
        });
      }
    })
    .transform((s) => ({ ...s, brokers: s.brokers as string, partialsTopic: s.partialsTopic as string })),
};

/**
 * Flags given on the command line that the chosen mode of a command does not use: `process
 * --partials-topic` writes no files. Returns the one-line refusal, if any.
 */
function unusedFlag(name: CommandName, settings: unknown, given: ReadonlySet<string>): string | undefined {
  if (name !== 'process' || (settings as Settings<'process'>).partialsTopic === undefined) return undefined;
  const flag = FILE_ONLY_FLAGS.find((f) => given.has(f));
  return flag === undefined
    ? undefined
    : `process --partials-topic writes no files, so --${flag} is not used: give it to the merge command instead`;
}

/** The validated settings of a command, in camelCase; a setting without value or default is `undefined`. */
export type Settings<C extends CommandName> = {
  [K in keyof z.output<(typeof SCHEMA)[C]>]-?: z.output<(typeof SCHEMA)[C]>[K];
};

/** The program's version, from its package.json (one folder up from both src/ and dist/). */
function version(): string {
  try {
    return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Reads the given flags, then the environment, then the defaults; names where each value came from. */
function valuesOf(command: Command, settings: Record<string, Setting>, env: NodeJS.ProcessEnv) {
  const texts: Record<string, string> = {};
  const from: Record<string, string> = {};
  /** The flags given on the command line. */
  const flags = new Set<string>();
  const given = command.opts<Record<string, string | boolean>>();
  for (const [flag, setting] of Object.entries(settings)) {
    const key = camel(flag);
    const value = command.getOptionValueSource(key) === 'cli' ? given[key] : undefined;
    const variable = env[setting.env];
    if (value !== undefined) {
      texts[key] = String(value);
      from[key] = `--${flag}`;
      flags.add(flag);
    } else if (variable !== undefined && variable !== '') {
      texts[key] = variable;
      from[key] = setting.env;
    } else if (setting.default !== undefined) {
      texts[key] = setting.default;
      from[key] = `--${flag}`;
    }
  }
  return { texts, from, flags };
}

function validate<C extends CommandName>(name: C, command: Command, env: NodeJS.ProcessEnv): Settings<C> {
  const { texts, from, flags } = valuesOf(command, COMMANDS[name].settings, env);
  const result = SCHEMA[name].safeParse(texts);
  if (result.success) {
    const unused = unusedFlag(name, result.data, flags);
    if (unused !== undefined) throw new InvalidOptionError(unused);
    return result.data as unknown as Settings<C>;
  }
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  const key = issue.path[0];
  if (typeof key !== 'string') throw new InvalidOptionError(issue.message);
  const given = issue.code === 'custom' ? (issue.params as { given?: string } | undefined)?.given : undefined;
  const what = given === undefined ? '' : `, ${given}`;
  throw new InvalidOptionError(`${from[key]} ${issue.message}, got ${JSON.stringify(texts[key])}${what}`);
}

/** The parsed command line: which command, and its settings. */
export type Invocation = {
  [C in CommandName]: { readonly command: C; readonly settings: Settings<C> };
}[CommandName];

/** What {@link parseCommandLine} returns when the command line asked for help or the version only. */
export interface Printed {
  readonly command: undefined;
  /** Exit code: 0 for `--help` and `--version`, 2 for a command line without a command. */
  readonly exitCode: number;
}

/** Where help and the version are written. */
interface Output {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/**
 * The commander program: one subcommand per entry of {@link COMMANDS}, each flag with its description,
 * allowed values, default and environment variable. Help and errors go to `out` and nowhere else.
 */
function program(out: Output): Command {
  const root = new Command('ticket-pipeline')
    .description('The customer-support ticket pipeline built on ticketflow.')
    .usage('<command> [flags]')
    .version(version(), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'print this help and exit')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: out.stdout, writeErr: out.stderr, outputError: () => {} });
  for (const [name, { summary, settings }] of Object.entries(COMMANDS)) {
    const command = root
      .command(name)
      .description(summary)
      .allowExcessArguments(false)
      .helpOption('-h, --help', 'print this help and exit')
      .configureHelp({ showGlobalOptions: false });
    for (const [flag, s] of Object.entries(settings as Record<string, Setting>)) {
      const { placeholder, allowed } = KINDS[s.kind];
      const option = new Option(
        s.kind === 'boolean' ? `--${flag}` : `--${flag} <${placeholder}>`,
        `${s.description}; ${allowed}`,
      );
      // Shown in help only: the environment and the default are applied by valuesOf, and checked by zod.
      option.envVar = s.env;
      if (s.default !== undefined) option.default(s.default);
      command.addOption(option);
    }
  }
  return root;
}

/** One line from a commander error: its message without the `error:` prefix, and its suggestion. */
function oneLine(error: CommanderError): string {
  return `${error.message
    .replace(/^error: /, '')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .join(' ')} (see --help)`;
}

/**
 * Parses a command line: `--help` and `--version` are printed to standard output, and anything else is
 * validated into the chosen command's {@link Settings}. A bad flag or value throws an
 * {@link InvalidOptionError} whose one-line message names it.
 */
export function parseCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  out: Output = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  },
): Invocation | Printed {
  const root = program(out);
  if (argv.length === 0) {
    out.stderr(root.helpInformation());
    return { command: undefined, exitCode: 2 };
  }
  let chosen: Command | undefined;
  for (const command of root.commands)
    command.action((_options, self: Command) => {
      chosen = self;
    });
  try {
    root.parse([...argv], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') {
      return { command: undefined, exitCode: 0 };
    }
    throw new InvalidOptionError(oneLine(error));
  }
  if (chosen === undefined) throw new InvalidOptionError('a command is needed (see --help)');
  const name = chosen.name() as CommandName;
  return { command: name, settings: validate(name, chosen, env) } as Invocation;
}

/**
 * Reads one command's settings from its flags, then the environment, then the defaults, and validates
 * each: a bad value throws an {@link InvalidOptionError} whose one-line message names the flag or the
 * variable.
 */
export function readSettings<C extends CommandName>(
  command: C,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Settings<C> {
  const parsed = parseCommandLine([command, ...args], env, { stdout: () => {}, stderr: () => {} });
  if (parsed.command !== command) throw new InvalidOptionError(`${command} printed its help only`);
  return parsed.settings as unknown as Settings<C>;
}
