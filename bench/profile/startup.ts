/**
 * Start-up of the README's launcher to its first record, taken apart. The end point is the one of
 * `pnpm bench --only startup` (bench/replay.bench.ts `startup`): from the launch of
 * `./ticket-pipeline process --input ONE_TICKET --out DIR --max-records 1 --quiet` until it logs its
 * first batch (`JSON metrics written`). Unlike the bench, this script does not build the binary: it
 * refuses to run when the launcher would rebuild it (a source newer than dist/cli.js), so that no
 * round pays for a build.
 *
 *   node --import tsx bench/profile/startup.ts [--rounds 5] [--launcher ./ticket-pipeline]
 *
 * Variants, interleaved round by round, best and median reported:
 *   launcher         ./ticket-pipeline as the bench runs it
 *   launcher+marks   the same with startup-marks.mjs preloaded (NODE_OPTIONS=--import), which records
 *                    when Node started, finished bootstrapping, opened the input and read its first block
 *   node+marks       `node dist/cli.js` directly: no shell, no stale check
 *   node -e 0        a bare Node.js process, start to exit
 *   stale check      the launcher's `find … -newer dist/cli.js | head -n 1`, in `sh -c`
 *   import X         `node --input-type=module -e "await import('X')"` in examples/ticket-pipeline, for
 *                    each third-party package that `process` loads (found with a module.register load
 *                    hook), and for all of them at once; `import (none)` is the same process importing
 *                    nothing
 *   cpu profile      `node --cpu-prof dist/cli.js …`, summarized by summarize.ts: self time under Node's
 *                    module loader (loading, compiling, evaluating modules) against the rest
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateTickets } from '../../examples/ticket-pipeline/src/domain/generator';
import { summarize } from './summarize';

const ROOT = resolve(import.meta.dirname, '..', '..');
const MARKS = join(import.meta.dirname, 'startup-marks.mjs');

interface Marks {
  readonly nodeStart: number;
  readonly bootstrapComplete: number;
  readonly preload: number;
  readonly inputOpened?: number;
  readonly inputOpen?: number;
  readonly firstBlock?: number;
  readonly metricsWritten?: number;
  readonly exit: number;
}

interface Launch {
  /** Launch to `JSON metrics written` seen on standard error, ms. */
  readonly written: number;
  /** Launch to exit, ms. */
  readonly exited: number;
  readonly marks?: Marks;
  /** Epoch ms of the launch, on the same clock as the marks. */
  readonly launchedAt: number;
}

const epochNow = () => performance.timeOrigin + performance.now();

/** The launcher's stale check, as a shell command (see ./ticket-pipeline). */
function staleCheck(root: string): string {
  const dirs = [
    'examples/ticket-pipeline/src',
    'packages/core/src',
    'packages/json-sink/src',
    'packages/kafka-source/src',
    'packages/s3-store/src',
    'packages/ops/src',
  ].map((d) => `"${join(root, d)}"`);
  const cli = join(root, 'examples/ticket-pipeline/dist/cli.js');
  return `find ${dirs.join(' ')} -newer "${cli}" -print 2>/dev/null | head -n 1`;
}

async function launch(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  marksFile?: string,
): Promise<Launch> {
  const launchedAt = epochNow();
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const exited = once(child, 'exit');
  let stderr = '';
  let written = Number.NaN;
  await new Promise<void>((resolvePromise) => {
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      if (Number.isNaN(written) && stderr.includes('JSON metrics written')) {
        written = performance.now() - started;
        resolvePromise();
      }
    });
    child.once('exit', () => resolvePromise());
  });
  const [code] = await exited;
  const exitedMs = performance.now() - started;
  if (code !== 0 || Number.isNaN(written)) throw new Error(`${command} exited ${code}: ${stderr}`);
  const marks = marksFile === undefined ? undefined : (JSON.parse(readFileSync(marksFile, 'utf8')) as Marks);
  return { written, exited: exitedMs, launchedAt, ...(marks ? { marks } : {}) };
}

/** The third-party packages `process` loads (the rest of its code is bundled into dist/). */
const DEPENDENCIES = ['rxjs', 'zod', 'prom-client', 'pino', 'commander', 'cli-progress'] as const;

async function timeCommand(command: string, args: readonly string[], cwd?: string): Promise<number> {
  const started = performance.now();
  const child = spawn(command, args, { stdio: 'ignore', ...(cwd ? { cwd } : {}) });
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}`);
  return performance.now() - started;
}

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
const best = (xs: readonly number[]) => sorted(xs)[0] as number;
const median = (xs: readonly number[]) => sorted(xs)[Math.floor(xs.length / 2)] as number;
const fmt = (xs: readonly number[]) =>
  `best ${best(xs).toFixed(1).padStart(6)} ms, median ${median(xs).toFixed(1).padStart(6)} ms  (${xs.map((x) => x.toFixed(0)).join(', ')})`;

/** Phases of a marked launch, ms each. */
function phases(l: Launch): Record<string, number> {
  const m = l.marks as Marks;
  const opened = m.inputOpened ?? Number.NaN;
  const first = m.firstBlock ?? Number.NaN;
  const written = m.metricsWritten ?? Number.NaN;
  return {
    'launch → node process starts (sh, stale check, exec)': m.nodeStart - l.launchedAt,
    'node bootstrap': m.bootstrapComplete - m.nodeStart,
    'preload of the marks module': m.preload - m.bootstrapComplete,
    'modules, options, checkpoint, lease → input opened': opened - m.preload,
    'input opened → first block read': first - opened,
    'first block → first batch written (logged)': written - first,
    'total to the log line (child clock)': written - l.launchedAt,
    'total to the log line (parent sees it)': l.written,
    'log line → exit': m.exit - written,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      launcher: { type: 'string', default: join(ROOT, 'ticket-pipeline') },
      profiles: { type: 'string', default: '3' },
    },
  });
  const launcher = resolve(values.launcher as string);
  const root = dirname(launcher);
  const cli = join(root, 'examples/ticket-pipeline/dist/cli.js');
  const stale = execFileSync('sh', ['-c', staleCheck(root)], { encoding: 'utf8' }).trim();
  if (stale !== '')
    throw new Error(
      `${cli} is older than ${stale}: the launcher would rebuild it in the first round; build it first ` +
        '(pnpm --filter @ticketflow/example-ticket-pipeline build)',
    );
  const work = mkdtempSync(join(tmpdir(), 'ticketflow-startup-'));
  const input = join(work, 'one.jsonl');
  const [line] = generateTickets({ seed: 1, badFraction: 0 });
  writeFileSync(input, `${line}\n`);
  const marksFile = join(work, 'marks.json');
  const rounds = Number(values.rounds);
  const args = (out: string) => ['process', '--input', input, '--out', out, '--max-records', '1', '--quiet'];
  const markedEnv = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${MARKS}`.trim(),
    TICKETFLOW_MARKS_FILE: marksFile,
    TICKETFLOW_MARKS_INPUT: input,
  };
  const results = {
    launcher: [] as Launch[],
    launcherMarks: [] as Launch[],
    nodeMarks: [] as Launch[],
    bareNode: [] as number[],
    staleCheck: [] as number[],
    shell: [] as number[],
    imports: new Map<string, number[]>(),
  };
  const example = join(root, 'examples/ticket-pipeline');
  const importCode = (name: string) =>
    name === '(none)'
      ? ''
      : name === '(all)'
        ? `await Promise.all(${JSON.stringify(DEPENDENCIES)}.map((m) => import(m)))`
        : `await import(${JSON.stringify(name)})`;
  for (let round = 0; round < rounds; round++) {
    const out = join(work, `out-${round}`);
    rmSync(out, { recursive: true, force: true });
    results.launcher.push(await launch(launcher, args(out), process.env));
    rmSync(out, { recursive: true, force: true });
    results.launcherMarks.push(await launch(launcher, args(out), markedEnv, marksFile));
    rmSync(out, { recursive: true, force: true });
    results.nodeMarks.push(await launch(process.execPath, [cli, ...args(out)], markedEnv, marksFile));
    rmSync(out, { recursive: true, force: true });
    results.bareNode.push(await timeCommand(process.execPath, ['-e', '0']));
    results.staleCheck.push(await timeCommand('sh', ['-c', staleCheck(root)]));
    results.shell.push(await timeCommand('sh', ['-c', ':']));
    for (const name of ['(none)', ...DEPENDENCIES, '(all)']) {
      const ms = await timeCommand(
        process.execPath,
        ['--input-type=module', '-e', importCode(name)],
        example,
      );
      results.imports.set(name, [...(results.imports.get(name) ?? []), ms]);
    }
  }
  console.log(`start-up, ${rounds} rounds, load before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  console.log(`launcher to first batch written  ${fmt(results.launcher.map((l) => l.written))}`);
  console.log(`  same, to exit                  ${fmt(results.launcher.map((l) => l.exited))}`);
  console.log(`launcher+marks to batch written  ${fmt(results.launcherMarks.map((l) => l.written))}`);
  console.log(`node cli.js+marks, batch written ${fmt(results.nodeMarks.map((l) => l.written))}`);
  console.log(`node -e 0, start to exit         ${fmt(results.bareNode)}`);
  console.log(`stale check (sh -c 'find …')     ${fmt(results.staleCheck)}`);
  console.log(`sh -c :                          ${fmt(results.shell)}`);
  const none = best(results.imports.get('(none)') ?? []);
  for (const [name, xs] of results.imports)
    console.log(
      `import ${name.padEnd(25)} ${fmt(xs)}${name === '(none)' ? '' : `  best over (none): +${(best(xs) - none).toFixed(1)} ms`}`,
    );
  for (const [name, launches] of [
    ['launcher+marks', results.launcherMarks],
    ['node cli.js+marks', results.nodeMarks],
  ] as const) {
    console.log(`\n${name}: phases, ms (median of ${rounds}; best)`);
    const all = launches.map(phases);
    for (const phase of Object.keys(all[0] as Record<string, number>)) {
      const xs = all.map((p) => p[phase] as number);
      console.log(
        `  ${phase.padEnd(56)} ${median(xs).toFixed(1).padStart(7)}  ${best(xs).toFixed(1).padStart(7)}`,
      );
    }
  }

  // Module loading against the rest, from CPU profiles of the same one-record run (the profiler slows
  // compilation down, so these CPU times exceed the unprofiled wall times above).
  const profiles = Number(values.profiles);
  const summaries = [];
  for (let round = 0; round < profiles; round++) {
    const dir = join(work, `prof-${round}`);
    const out = join(work, `prof-out-${round}`);
    execFileSync(
      process.execPath,
      ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval', '100', cli, ...args(out)],
      { stdio: 'ignore' },
    );
    const [file] = readdirSync(dir);
    summaries.push(summarize(join(dir, file as string), 12));
  }
  const fastest = summaries.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
  const cpu = Object.values(fastest.ms).reduce((a, b) => a + b, 0);
  console.log(
    `\ncpu profile of node cli.js on one record (fastest of ${profiles}): wall ${fastest.wallMs.toFixed(0)} ms, CPU ${cpu.toFixed(0)} ms, idle ${fastest.idleMs.toFixed(0)} ms`,
  );
  for (const [category, ms] of Object.entries(fastest.ms))
    if (ms >= 0.5) console.log(`  ${category.padEnd(10)} ${ms.toFixed(1).padStart(7)} ms`);
  console.log('  functions with the most self time:');
  for (const { category, ms, frame } of fastest.top)
    console.log(`    ${ms.toFixed(1).padStart(6)} ms  ${category.padEnd(8)} ${frame}`);
  rmSync(work, { recursive: true, force: true });
}

await main();
