import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ambientSecrets, createLogger } from '../../src/logger';
import { readBatches, runCli } from '../support/cli';
import {
  createTopic,
  ensureBroker,
  freshTopic,
  SASL_BROKERS,
  SASL_PASSWORD,
  SASL_USER,
} from '../support/kafka';
import { spawnCli, waitFor } from './ops-support';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-ops-redact-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function capture(format: 'text' | 'json', secrets: string[] = []) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', format, secrets, write: (line) => lines.push(line) });
  return { logger, text: () => lines.join('') };
}

describe('logger redaction', () => {
  for (const format of ['text', 'json'] as const) {
    it(`removes a secret from messages, nested fields, arrays and errors at debug level (${format})`, () => {
      const secret = 's3cr3t-Value/with+chars';
      const { logger, text } = capture(format, [secret]);
      logger.debug(`connecting with ${secret}`, {
        nested: { deeper: { list: [`a ${secret}`, { inner: secret }] } },
        error: new Error(`refused ${secret}`),
        saslPassword: 'another-value-by-key',
        'sasl.password': 'config-style-key',
      });
      const out = text();
      expect(out).not.toContain(secret);
      expect(out).not.toContain('another-value-by-key');
      expect(out).not.toContain('config-style-key');
      expect(out.split('[REDACTED]').length - 1).toBeGreaterThanOrEqual(6);
      if (format === 'json') expect(JSON.parse(out).level).toBe(20);
    });
  }

  it('redacts a short secret where a value equals it, without mangling words and paths that contain it', () => {
    const { logger, text } = capture('text', ['test', 'a-long-secret-value']);
    logger.info('writing to /tmp/prototest/out and testing', {
      out: '/tmp/prototest/out',
      token: 'by-key',
      key: 'test',
      url: 'https://u:a-long-secret-value@host/x',
    });
    const out = text();
    expect(out).toContain('writing to /tmp/prototest/out and testing');
    expect(out).toContain('out=/tmp/prototest/out');
    expect(out).toContain('key=[REDACTED]');
    expect(out).toContain('token=[REDACTED]');
    expect(out).toContain('url=https://u:[REDACTED]@host/x');
    expect(out).not.toContain('a-long-secret-value');
    expect(out).not.toContain('by-key');
  });

  it('keeps the paths of a CLI run intact when AWS_SECRET_ACCESS_KEY is a short word', async () => {
    const out = join(dir, 'prototest-out');
    const input = join(dir, 'one.jsonl');
    await writeFile(input, '{}\n');
    const result = await runCli(['process', '--input', input, '--out', out], {
      env: { AWS_SECRET_ACCESS_KEY: 'test' },
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`→ ${join(out, 'batch_00000.json')}`);
    expect(result.stderr).not.toContain('[REDACTED]');
  });

  it('finds secrets in --sasl-password and the secret variables of the environment', () => {
    expect(
      ambientSecrets(['node', 'cli', '--sasl-password', 'p1', '--sasl-password=p2', '--topic', 't'], {
        KAFKA_SASL_PASSWORD: 'p3',
        AWS_SECRET_ACCESS_KEY: 'p4',
        AWS_SESSION_TOKEN: 'p5',
        KAFKA_SASL_USERNAME: 'not-a-secret',
      }),
    ).toEqual(['p3', 'p4', 'p5', 'p1', 'p2']);
  });
});

describe('CLI redaction against the SASL listener', () => {
  beforeAll(() => ensureBroker());

  it('never prints a wrong --sasl-password at debug level, and fails with one line', async () => {
    const password = `wrong-password-${Date.now().toString(36)}-x9`;
    const result = await runCli([
      'process',
      '--brokers',
      SASL_BROKERS,
      '--sasl-mechanism',
      'scram-sha-256',
      '--sasl-username',
      SASL_USER,
      '--sasl-password',
      password,
      '--out',
      join(dir, 'o'),
      '--log-level',
      'debug',
      '--log-format',
      'json',
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).not.toContain(password);
    const lines = result.stderr.trimEnd().split('\n');
    const errors = lines.filter((line) => line.startsWith('ticket-pipeline:'));
    expect(errors).toEqual([expect.stringMatching(/refused the SASL credentials/)]);
    // Every other line is a JSON log line; the settings line shows the password redacted.
    const logs = lines.filter((line) => !line.startsWith('ticket-pipeline:')).map((line) => JSON.parse(line));
    const settings = logs.find((l) => l.msg === 'settings');
    expect(settings).toMatchObject({ level: 20, saslPassword: '[REDACTED]', saslUsername: SASL_USER });
  });

  it('never prints the right password while producing and processing at debug level in JSON', async () => {
    const topic = freshTopic('ops-redact');
    await createTopic(topic, 1);
    const sasl = [
      '--brokers',
      SASL_BROKERS,
      '--sasl-mechanism',
      'scram-sha-256',
      '--sasl-username',
      SASL_USER,
      '--sasl-password',
      SASL_PASSWORD,
      '--topic',
      topic,
    ];
    const debugJson = ['--log-level', 'debug', '--log-format', 'json'];
    const produced = await runCli(['produce', ...sasl, '--count', '50', '--seed', '5', ...debugJson]);
    expect(produced.code).toBe(0);
    expect(produced.stdout + produced.stderr).not.toContain(SASL_PASSWORD);
    const producedLogs = produced.stderr
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string });
    expect(producedLogs.filter((l) => l.msg.startsWith('Produced: {'))).toHaveLength(50);
    expect(
      producedLogs.filter((l) => new RegExp(`^Delivered to ${topic} \\[0\\] @ offset \\d+$`).test(l.msg)),
    ).toHaveLength(50);

    const out = join(dir, 'metrics');
    const cli = spawnCli([
      'process',
      ...sasl,
      '--group',
      `g-${topic}`,
      '--out',
      out,
      '--window',
      '500ms',
      ...debugJson,
    ]);
    try {
      await waitFor(() => cli.output().stderr.includes('JSON metrics written'), 'a written batch');
      await waitFor(async () => {
        const batches = await readBatches(out).catch(() => []);
        return batches.reduce((s, b) => s + (b.total_tickets as number), 0) === 50;
      }, 'the 50 tickets in batch files');
      cli.child.kill('SIGTERM');
      const result = await cli.done;
      expect(result.code).toBe(0);
      expect(result.stdout + result.stderr).not.toContain(SASL_PASSWORD);
      const logs = result.stderr
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { msg: string; level: number; saslPassword?: string });
      expect(logs.find((l) => l.msg === 'settings')?.saslPassword).toBe('[REDACTED]');
      expect(logs.some((l) => l.msg.startsWith('[✓] JSON metrics written → '))).toBe(true);
    } finally {
      cli.child.kill('SIGKILL');
    }
  });
});
