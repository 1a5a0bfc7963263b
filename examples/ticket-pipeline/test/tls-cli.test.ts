import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli';
import { ensureBroker, TLS_BROKERS } from './support/kafka';

let dir: string;
beforeAll(() => ensureBroker());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-tls-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = (text: string) => text.split('\n').filter((l) => l.length > 0);

describe('connection failures of the processor', () => {
  it('names the certificate verification and KAFKA_SSL_CA in one line when the TLS CA is unknown', async () => {
    const result = await runCli(
      ['process', '--brokers', TLS_BROKERS, '--ssl', '--topic', 'client_tickets', '--out', join(dir, 'o')],
      { env: { KAFKA_SSL_CA: '' } },
    );
    expect(result.code).toBe(1);
    const errors = lines(result.stderr).filter((l) => l.startsWith('ticket-pipeline:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/TLS certificate verification failed for the brokers at 127\.0\.0\.1:9095/);
    expect(errors[0]).toMatch(/KAFKA_SSL_CA/);
    expect(result.stderr).not.toMatch(/broker transport failure|ssl error/);
    expect(lines(result.stderr + result.stdout).length).toBeLessThan(10);
  });
});
