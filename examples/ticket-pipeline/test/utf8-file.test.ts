import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateTickets } from '../src/domain/generator';
import { readBatches, runCli } from './support/cli';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-utf8-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a JSON Lines file with bytes that are not UTF-8', () => {
  it('refuses the line with that reason, dead-letters it, and replays nothing on a second run', async () => {
    const tickets = generateTickets({ seed: 3, badFraction: 0 });
    const lines = Array.from({ length: 5 }, () => Buffer.from(`${tickets.next().value}\n`));
    // The third line's request is "a\xffb": a valid JSON string once decoded with U+FFFD, but not UTF-8.
    const [head, tail] = JSON.stringify({ ...JSON.parse(lines[2]!.toString()), request: 'a@@b' }).split(
      '@@',
    ) as [string, string];
    lines[2] = Buffer.concat([Buffer.from(head), Buffer.from([0xff]), Buffer.from(`${tail}\n`)]);
    const input = join(dir, 'tickets.jsonl');
    await writeFile(input, Buffer.concat(lines));
    const out = join(dir, 'metrics');

    const first = await runCli(['process', '--input', input, '--out', out, '--max-records', '2']);
    expect(first.code).toBe(0);
    const batches = await readBatches(out);
    const sum = (field: string) => batches.reduce((s, b) => s + (b[field] as number), 0);
    expect(sum('total_tickets')).toBe(4);
    expect(sum('invalid_tickets')).toBe(1);

    const letters = (await readFile(join(out, '_dead_letters.jsonl'), 'utf8'))
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as { reason: string; offset: number; value: string });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reason: 'line is not valid UTF-8', offset: 2 });
    expect(letters[0]?.value).toContain('"request":"a\uFFFDb"');

    // The refused line is part of its batch's range: a second run over the same output reads past it.
    const second = await runCli(['process', '--input', input, '--out', out, '--max-records', '2']);
    expect(second.code).toBe(0);
    expect(await readBatches(out)).toEqual(batches);
    const again = (await readFile(join(out, '_dead_letters.jsonl'), 'utf8')).split('\n').filter((l) => l);
    expect(again).toHaveLength(1);
  });
});
