import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { benchTickets, writeTicketFile } from '../support';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CACHE = join(ROOT, '.cache', 'bench');
const CHECKED_LINES = 2000;

async function matchesGenerator(path: string): Promise<boolean> {
  const expected = benchTickets();
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const line of lines) {
    if (line !== expected.next().value) return false;
    if (++n === CHECKED_LINES) break;
  }
  lines.close();
  return true;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '1000000' } } });
  const count = Number(values.count);
  mkdirSync(CACHE, { recursive: true });
  const path = join(CACHE, `tickets-${count}.jsonl`);
  if (existsSync(path)) {
    if (!(await matchesGenerator(path)))
      throw new Error(`${path} differs from what the generator makes now: delete it and run again`);
    console.log(`kept ${path} (its first ${CHECKED_LINES} lines match the generator)`);
    console.log(path);
    return;
  }
  const started = performance.now();
  await writeTicketFile(path, count);
  console.log(`generated ${count} tickets in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(path);
}

await main();
