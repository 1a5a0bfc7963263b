import { describe, expect, it } from 'vitest';
import { COMMANDS, readSettings } from '../../src/config';
import { runCli } from '../support/cli';

describe('operations settings', () => {
  it('gives every flag of every command one TICKETFLOW_ variable, or a documented KAFKA_ one', () => {
    const kafka = ['KAFKA_BROKERS', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'];
    kafka.push('KAFKA_SSL', 'KAFKA_SSL_CA');
    for (const [command, { settings }] of Object.entries(COMMANDS)) {
      for (const [flag, setting] of Object.entries(settings as Record<string, { env: string }>)) {
        expect(setting.env, `${command} --${flag}`).toMatch(/^TICKETFLOW_[A-Z_]+$|^KAFKA_/);
        if (setting.env.startsWith('KAFKA_')) expect(kafka, `${command} --${flag}`).toContain(setting.env);
      }
    }
  });

  it('reads no generic variable: LOG_LEVEL, LOG_FORMAT, KAFKA_TOPIC and KAFKA_GROUP are left alone', () => {
    const generic = { LOG_LEVEL: 'trace', LOG_FORMAT: 'xml', KAFKA_TOPIC: 'other', KAFKA_GROUP: 'other' };
    expect(readSettings('process', ['--input', 'x.jsonl'], generic)).toMatchObject({
      logLevel: 'info',
      logFormat: 'text',
      topic: 'client_tickets',
      group: 'ticketflow',
    });
  });

  it('reads the HTTP and retry settings from the environment', () => {
    const settings = readSettings('process', [], {
      KAFKA_BROKERS: 'seed.example.com:9092',
      TICKETFLOW_HTTP_PORT: '8080',
      TICKETFLOW_HTTP_HOST: '127.0.0.1',
      TICKETFLOW_SINK_RETRY_FOR: '2m',
      TICKETFLOW_START_FROM: 'latest',
      TICKETFLOW_LOG_FORMAT: 'json',
    });
    expect(settings).toMatchObject({
      brokers: 'seed.example.com:9092',
      httpPort: 8080,
      httpHost: '127.0.0.1',
      sinkRetryFor: 120_000,
      startFrom: 'latest',
      logFormat: 'json',
    });
    // This machine only, unless told otherwise (compose and the image set 0.0.0.0).
    expect(readSettings('run', [], {})).toMatchObject({ httpHost: '127.0.0.1' });
    expect(readSettings('run', [], {}).httpPort).toBeUndefined();
    expect(readSettings('run', ['--http-host', '::'], {}).httpHost).toBe('::');
    expect(readSettings('run', ['--http-port', '0'], { TICKETFLOW_HTTP_PORT: '9' }).httpPort).toBe(0);
  });

  it.each([
    [['--http-port', '70000'], {}, '--http-port must be a TCP port from 0 to 65535, got "70000"'],
    [
      [],
      { TICKETFLOW_HTTP_PORT: '80a' },
      'TICKETFLOW_HTTP_PORT must be a TCP port from 0 to 65535, got "80a"',
    ],
    [
      ['--http-host', 'http://0.0.0.0'],
      {},
      '--http-host must be a host name or IP address to listen on, such as 0.0.0.0 or 127.0.0.1, got "http://0.0.0.0"',
    ],
    [
      [],
      { TICKETFLOW_SINK_RETRY_FOR: '5 minutes' },
      'TICKETFLOW_SINK_RETRY_FOR must be a positive duration such as 500ms, 30s, 5m or 1h, got "5 minutes"',
    ],
    [['--start-from', 'middle'], {}, '--start-from must be earliest or latest, got "middle"'],
  ] as const)('refuses %j %j with a one-line error naming the bad value', (args, env, message) => {
    expect(() => readSettings('process', args, env)).toThrow(message);
  });

  it('exits 2 with that one line from the command line', async () => {
    const result = await runCli(['process', '--input', 'x.jsonl'], {
      env: { TICKETFLOW_HTTP_PORT: '65536' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'ticket-pipeline: TICKETFLOW_HTTP_PORT must be a TCP port from 0 to 65535, got "65536"\n',
    );
  });
});
