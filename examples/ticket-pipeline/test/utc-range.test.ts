import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBatches, runCli } from './support/cli';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-utc-range-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ticket = (id: string, createdAt: string) =>
  JSON.stringify({
    ticket_id: id,
    client_id: 1,
    created_at: createdAt,
    request: 'r',
    request_type: 'billing',
    priority: 'low',
  });

describe('created_at outside the UTC years 0000 to 9999', () => {
  it('is an invalid record, so that no batch file holds a day such as -000001-12-31 or +010000-01-01', async () => {
    const input = join(dir, 'edges.jsonl');
    await writeFile(
      input,
      [
        ticket('before', '0000-01-01T00:00:00+01:00'),
        ticket('first', '0000-01-01T00:00:00Z'),
        ticket('last', '9999-12-31T23:59:59.999Z'),
        ticket('after', '9999-12-31T23:30:00-01:00'),
      ].join('\n'),
    );
    const out = join(dir, 'out');
    const result = await runCli(['process', '--input', input, '--out', out]);
    expect(result.code).toBe(0);
    const [batch] = await readBatches(out);
    expect(batch).toMatchObject({ total_tickets: 2, invalid_tickets: 2 });
    expect(batch?.tickets_per_day).toEqual([
      { day: '0000-01-01', tickets_per_day: 1 },
      { day: '9999-12-31', tickets_per_day: 1 },
    ]);
    const letters = (await readFile(join(out, '_dead_letters.jsonl'), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { offset: number; reason: string });
    expect(letters.map((l) => l.offset)).toEqual([0, 3]);
    for (const letter of letters)
      expect(letter.reason).toMatch(/^field "created_at" must fall within the years 0000 to 9999 in UTC/);
  });
});
