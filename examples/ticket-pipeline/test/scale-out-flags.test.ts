import { afterEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS, FILE_ONLY_FLAGS, readSettings } from '../src/config';
import type { Shutdown } from '../src/shutdown';

// main() runs the real command line up to the processor, which records what it was given; the Kafka
// parts record their options (nothing connects).
const processor = vi.hoisted(() => ({
  runProcessor: vi.fn(async (_settings: unknown, _parts: unknown) => {}),
  runPartialProcessor: vi.fn(async (_settings: unknown, _parts: unknown) => {}),
  runMerge: vi.fn(async (_settings: unknown, _parts: unknown) => {}),
  kafkaValueOf: vi.fn((_record: unknown) => null),
}));
vi.mock('../src/commands/processor', () => processor);
const kafka = vi.hoisted(() => {
  const close = vi.fn(async () => {});
  return {
    close,
    kafkaSource: vi.fn((options: { topic: string }) => ({ name: `kafka:${options.topic}` })),
    kafkaPartials: vi.fn((_options: unknown) => ({ checkpoint: {}, sink: {}, deadLetters: {}, close })),
    kafkaDeadLetters: vi.fn((_options: unknown) => ({})),
    kafkaText: vi.fn(),
  };
});
vi.mock('@ticketflow/kafka-source', () => kafka);

const BROKERS = ['--brokers', 'localhost:19092'];
const PARTIALS = [...BROKERS, '--partials-topic', 'client_tickets.partials', '--instance-id', 'p1'];
const MERGE = [...BROKERS, '--partials-topic', 'client_tickets.partials'];

const shutdown: Shutdown = {
  signal: new AbortController().signal,
  received: undefined,
  onSecondSignal: () => {},
};

afterEach(() => {
  vi.clearAllMocks();
});

describe('process --partials-topic', () => {
  it('reads the partials topic from the flag or TICKETFLOW_PARTIALS_TOPIC, and is absent by default', () => {
    expect(readSettings('process', BROKERS, {}).partialsTopic).toBeUndefined();
    expect(readSettings('process', PARTIALS, {})).toMatchObject({
      partialsTopic: 'client_tickets.partials',
      instanceId: 'p1',
      topic: 'client_tickets',
      group: 'ticketflow',
    });
    expect(
      readSettings('process', BROKERS, {
        TICKETFLOW_PARTIALS_TOPIC: 'from-env.partials',
        TICKETFLOW_INSTANCE_ID: 'p2',
      }),
    ).toMatchObject({ partialsTopic: 'from-env.partials', instanceId: 'p2' });
  });

  it.each([
    [
      'without --instance-id (a random one would defeat zombie fencing)',
      [...BROKERS, '--partials-topic', 't.partials'],
      {},
      'process --partials-topic needs --instance-id ID (or TICKETFLOW_INSTANCE_ID), stable across restarts and different for each partial processor',
    ],
    [
      'with --input',
      ['--input', 'tickets.jsonl', '--partials-topic', 't.partials', '--instance-id', 'p1'],
      {},
      'process takes --partials-topic with --brokers, not with --input',
    ],
    [
      'without --brokers',
      ['--partials-topic', 't.partials', '--instance-id', 'p1'],
      {},
      'process needs --brokers HOST:PORT (or KAFKA_BROKERS) or --input FILE',
    ],
    [
      'naming the topic of the tickets',
      [...BROKERS, '--partials-topic', 'client_tickets', '--instance-id', 'p1'],
      {},
      '--partials-topic must differ from --topic, got "client_tickets" for both',
    ],
    [
      'from the environment without an instance id',
      BROKERS,
      { TICKETFLOW_PARTIALS_TOPIC: 't.partials' },
      'process --partials-topic needs --instance-id ID (or TICKETFLOW_INSTANCE_ID), stable across restarts and different for each partial processor',
    ],
  ])('is refused in one line %s', (_case, args, env, message) => {
    expect(() => readSettings('process', args, env)).toThrow(message);
    try {
      readSettings('process', args, env);
    } catch (error) {
      expect((error as Error).message.split('\n')).toHaveLength(1);
      expect(error).toMatchObject({ code: 'INVALID_OPTION' });
    }
  });

  it.each([
    ['--out', './somewhere'],
    ['--checkpoint', './cp'],
    ['--dead-letters', './dl.jsonl'],
    ['--layout', 'hive'],
    ['--gzip'],
    ['--lease-ttl', '1m'],
    ['--sink-retry-for', '5m'],
  ])('refuses %s on the command line: a partial processor writes no files', (flag, ...value) => {
    expect(() => readSettings('process', [...PARTIALS, flag, ...value], {})).toThrow(
      `process --partials-topic writes no files, so ${flag} is not used: give it to the merge command instead`,
    );
    // Without --partials-topic the same flag is the processor's own.
    expect(() => readSettings('process', [...BROKERS, flag, ...value], {})).not.toThrow();
  });

  it('ignores the file settings of a shared environment, which the merge may use', () => {
    const env = {
      TICKETFLOW_OUT: './shared_out',
      TICKETFLOW_CHECKPOINT: './shared_cp',
      TICKETFLOW_DEAD_LETTERS: './shared.jsonl',
      TICKETFLOW_GZIP: 'true',
      TICKETFLOW_LAYOUT: 'hive',
    };
    expect(readSettings('process', PARTIALS, env)).toMatchObject({
      partialsTopic: 'client_tickets.partials',
    });
  });

  it('lists exactly the file flags of process as unused with --partials-topic', () => {
    for (const flag of FILE_ONLY_FLAGS) expect(Object.keys(COMMANDS.process.settings)).toContain(flag);
    expect([...FILE_ONLY_FLAGS].sort()).toEqual(
      ['checkpoint', 'dead-letters', 'gzip', 'layout', 'lease-ttl', 'out', 'sink-retry-for'].sort(),
    );
  });

  it('keeps the rollup, window and HTTP flags: the partial carries per-window contributions', () => {
    expect(
      readSettings(
        'process',
        [...PARTIALS, '--rollups', 'hour,day', '--window', '5s', '--max-records', '100', '--http-port', '0'],
        {},
      ),
    ).toMatchObject({ rollups: ['hour', 'day'], window: 5000, maxRecords: 100, httpPort: 0 });
  });
});

describe('merge', () => {
  it('defaults to its own group, a 30 s window, ./ticket_metrics_json and no rollups', () => {
    expect(readSettings('merge', MERGE, {})).toMatchObject({
      brokers: 'localhost:19092',
      partialsTopic: 'client_tickets.partials',
      group: 'ticketflow-merge',
      window: 30_000,
      out: './ticket_metrics_json',
      layout: 'flat',
      rollups: [],
      allowedLateness: 600_000,
      idleTimeout: 60_000,
      leaseTtl: 30_000,
      httpHost: '127.0.0.1',
      onDataLoss: 'fail',
      logLevel: 'info',
      logFormat: 'text',
    });
  });

  it('reads its settings from flags and the environment; the processors’ TICKETFLOW_GROUP is not its group', () => {
    const env = {
      KAFKA_BROKERS: 'redpanda:9092',
      TICKETFLOW_PARTIALS_TOPIC: 'p.partials',
      TICKETFLOW_GROUP: 'ticketflow',
      TICKETFLOW_INSTANCE_ID: 'p1',
    };
    expect(readSettings('merge', [], env)).toMatchObject({
      brokers: 'redpanda:9092',
      partialsTopic: 'p.partials',
      group: 'ticketflow-merge',
    });
    expect(readSettings('merge', [], env).instanceId).toBeUndefined();
    expect(
      readSettings('merge', [], { ...env, TICKETFLOW_MERGE_GROUP: 'm', TICKETFLOW_MERGE_INSTANCE_ID: 'm1' }),
    ).toMatchObject({ group: 'm', instanceId: 'm1' });
    expect(
      readSettings(
        'merge',
        [
          ...MERGE,
          '--group',
          'g',
          '--window',
          '10s',
          '--max-records',
          '50',
          '--out',
          's3://bucket/prefix',
          '--checkpoint',
          './cp',
          '--dead-letters',
          './dl.jsonl',
          '--layout',
          'hive',
          '--gzip',
          '--rollups',
          'day,hour',
          '--allowed-lateness',
          '0',
          '--idle-timeout',
          '2m',
          '--http-port',
          '8080',
          '--http-host',
          '0.0.0.0',
          '--sink-retry-for',
          '5m',
          '--lease-ttl',
          '1m',
          '--log-level',
          'debug',
          '--log-format',
          'json',
          '--quiet',
        ],
        env,
      ),
    ).toMatchObject({
      brokers: 'localhost:19092',
      group: 'g',
      window: 10_000,
      maxRecords: 50,
      out: 's3://bucket/prefix',
      checkpoint: './cp',
      deadLetters: './dl.jsonl',
      layout: 'hive',
      gzip: true,
      rollups: ['hour', 'day'],
      allowedLateness: 0,
      idleTimeout: 120_000,
      httpPort: 8080,
      httpHost: '0.0.0.0',
      sinkRetryFor: 300_000,
      leaseTtl: 60_000,
      logLevel: 'debug',
      logFormat: 'json',
      quiet: true,
    });
  });

  it.each([
    [['--partials-topic', 'p'], {}, 'merge needs --brokers HOST:PORT (or KAFKA_BROKERS)'],
    [BROKERS, {}, 'merge needs --partials-topic TOPIC (or TICKETFLOW_PARTIALS_TOPIC)'],
    [[...MERGE, '--window', 'soon'], {}, '--window must be a positive duration'],
    [[...MERGE, '--rollups', 'week'], {}, '--rollups must be none, or a comma-separated list'],
    [MERGE, { TICKETFLOW_MERGE_GROUP: '' }, ''],
  ])('refuses %j in one line', (args, env, message) => {
    if (message === '') {
      // An empty variable counts as absent, as for every other setting.
      expect(readSettings('merge', args, env).group).toBe('ticketflow-merge');
      return;
    }
    expect(() => readSettings('merge', args, env)).toThrow(message);
  });

  it.each(['--topic', '--input', '--start-from', '--dead-letter-topic'])(
    'does not take %s (it reads the partials topic, from its beginning)',
    (flag) => {
      expect(() => readSettings('merge', [...MERGE, flag, 'x'], {})).toThrow(`unknown option '${flag}'`);
    },
  );

  it('shares the setting groups of process: connection, partials topic, output, rollups, logs', () => {
    const shared = [
      'brokers',
      'sasl-mechanism',
      'sasl-username',
      'sasl-password',
      'ssl',
      'ssl-ca',
      'partials-topic',
      'on-data-loss',
      'window',
      'max-records',
      'out',
      'checkpoint',
      'dead-letters',
      'layout',
      'gzip',
      'http-port',
      'http-host',
      'sink-retry-for',
      'lease-ttl',
      'rollups',
      'allowed-lateness',
      'idle-timeout',
      'quiet',
      'log-level',
      'log-format',
    ] as const;
    for (const flag of shared)
      expect(COMMANDS.merge.settings[flag], flag).toBe(COMMANDS.process.settings[flag]);
    expect(COMMANDS.merge.settings.group.default).toBe('ticketflow-merge');
    expect(COMMANDS.merge.settings.group.env).not.toBe(COMMANDS.process.settings.group.env);
  });

  it('takes SASL and TLS settings as process does', () => {
    expect(
      readSettings('merge', [...MERGE, '--sasl-mechanism', 'scram-sha-256', '--ssl'], {
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'secret',
      }),
    ).toMatchObject({ saslMechanism: 'scram-sha-256', saslUsername: 'u', saslPassword: 'secret', ssl: true });
  });
});

describe('main wires the scale-out commands', () => {
  it('runs a partial processor: transactional offsets, one transactional producer, no files', async () => {
    const { main } = await import('../src/main');
    const code = await main(['process', ...PARTIALS, '--group', 'g', '--rollups', 'hour'], shutdown);
    expect(code).toBe(0);
    expect(processor.runProcessor).not.toHaveBeenCalled();
    expect(kafka.kafkaDeadLetters).not.toHaveBeenCalled();
    expect(kafka.kafkaSource).toHaveBeenCalledTimes(1);
    expect(kafka.kafkaSource.mock.calls[0]?.[0]).toMatchObject({
      brokers: 'localhost:19092',
      topic: 'client_tickets',
      groupId: 'g',
      instanceId: 'p1',
      offsets: 'transaction',
      onDataLoss: 'fail',
      startFrom: 'earliest',
    });
    const source = kafka.kafkaSource.mock.results[0]?.value;
    expect(kafka.kafkaPartials).toHaveBeenCalledTimes(1);
    expect(kafka.kafkaPartials.mock.calls[0]?.[0]).toMatchObject({
      brokers: 'localhost:19092',
      partialsTopic: 'client_tickets.partials',
      deadLetterTopic: 'client_tickets.dlq',
      transactionalId: 'ticketflow-partial-g-p1',
    });
    expect(kafka.kafkaPartials.mock.calls[0]?.[0]).toHaveProperty('source', source);
    expect(processor.runPartialProcessor).toHaveBeenCalledTimes(1);
    const [settings, parts] = processor.runPartialProcessor.mock.calls[0] as [
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    expect(settings).toMatchObject({ partialsTopic: 'client_tickets.partials', rollups: ['hour'] });
    expect(parts.source).toBe(source);
    expect(parts.transaction).toBe(kafka.kafkaPartials.mock.results[0]?.value);
    expect(kafka.close).toHaveBeenCalledTimes(1);
  });

  it('closes the transactional producer when the partial processor fails, and names the dead-letter topic given', async () => {
    processor.runPartialProcessor.mockRejectedValueOnce(new Error('fenced'));
    const { main } = await import('../src/main');
    await expect(main(['process', ...PARTIALS, '--dead-letter-topic', 'dlq'], shutdown)).rejects.toThrow(
      'fenced',
    );
    expect(kafka.kafkaPartials.mock.calls[0]?.[0]).toMatchObject({
      deadLetterTopic: 'dlq',
      transactionalId: 'ticketflow-partial-ticketflow-p1',
    });
    expect(kafka.close).toHaveBeenCalledTimes(1);
  });

  it('runs the merge: committed partials of the partials topic, in its own group', async () => {
    const { main } = await import('../src/main');
    const code = await main(['merge', ...MERGE, '--rollups', 'hour,day', '--out', './merged'], shutdown);
    expect(code).toBe(0);
    expect(kafka.kafkaPartials).not.toHaveBeenCalled();
    expect(kafka.kafkaSource.mock.calls[0]?.[0]).toMatchObject({
      brokers: 'localhost:19092',
      topic: 'client_tickets.partials',
      groupId: 'ticketflow-merge',
      isolationLevel: 'read_committed',
      startFrom: 'earliest',
    });
    expect(kafka.kafkaSource.mock.calls[0]?.[0]).not.toHaveProperty('offsets');
    expect(kafka.kafkaSource.mock.calls[0]?.[0]).not.toHaveProperty('instanceId');
    expect(processor.runMerge).toHaveBeenCalledTimes(1);
    const [settings, parts] = processor.runMerge.mock.calls[0] as [
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    expect(settings).toMatchObject({ out: './merged', rollups: ['hour', 'day'], window: 30_000 });
    expect(parts.source).toBe(kafka.kafkaSource.mock.results[0]?.value);
    expect(parts.deadLetterValue).toBe(processor.kafkaValueOf);
  });

  it('exits 2 in one line for a merge without --partials-topic, before loading Kafka', async () => {
    const { main } = await import('../src/main');
    await expect(main(['merge', ...BROKERS], shutdown)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    expect(kafka.kafkaSource).not.toHaveBeenCalled();
  });
});
