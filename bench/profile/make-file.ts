/**
 * Makes the JSON Lines file the profiles and step timings read: the same tickets as `pnpm bench`
 * (`ensureFile` of bench/replay.bench.ts: seed 42, 1 % invalid, `now` fixed at 2026-03-01T12:00Z), at
 * the same path, so either command can reuse the other's file.
 *
 *   node --import tsx bench/profile/make-file.ts [--count 1000000]
 *
 * When the file exists it is kept, after checking that its first lines are what the generator makes
 * now. Prints the file's path on its last line.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { generateTickets } from '../../examples/ticket-pipeline/src/domain/generator';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CACHE = join(ROOT, '.cache', 'bench');
const CHECKED_LINES = 2000;

const tickets = () => generateTickets({ seed: 42, badFraction: 0.01, now: () => Date.UTC(2026, 2, 1, 12) });

async function matchesGenerator(path: string): Promise<boolean> {
  const expected = tickets();
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
  const out = createWriteStream(`${path}.tmp`);
  const generator = tickets();
  for (let written = 0; written < count; ) {
    const n = Math.min(5000, count - written);
    let text = '';
    for (let i = 0; i < n; i++) text += `${generator.next().value}\n`;
    written += n;
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  renameSync(`${path}.tmp`, path);
  console.log(`generated ${count} tickets in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(path);
}

await main();
