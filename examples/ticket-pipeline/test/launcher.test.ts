import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ROOT, readBatches } from './support/cli';

const run = promisify(execFile);
/** The README's launcher: the built JavaScript binary, run with `exec` by a shell script. */
const LAUNCHER = join(ROOT, 'ticket-pipeline');

/** The environment of a user's shell: no variables of the pnpm script that runs these tests. */
function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (/^(npm_|INIT_CWD$|PNPM_)/.test(name)) delete env[name];
  return env;
}

interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function start(command: string, args: readonly string[], cwd: string, detached = false) {
  const child = spawn(command, args, { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (t: string) => {
    stdout += t;
  });
  child.stderr?.setEncoding('utf8').on('data', (t: string) => {
    stderr += t;
  });
  const done = new Promise<Finished>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const stderrContains = (text: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (stderr.includes(text)) {
          child.stderr?.off('data', check);
          resolve();
        }
      };
      child.stderr?.on('data', check);
      check();
    });
  return { child, done, stderrContains };
}

/** Whether a process with this id still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process of the machine whose command line mentions `marker`. */
async function processesWith(marker: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid,args']);
  return stdout.split('\n').filter((line) => line.includes(marker) && !line.includes(' ps -eo'));
}

function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error('the launcher did not start');
  return child.pid;
}

/** The batches the program said it wrote, the last one (the open batch at the signal) included, are on disk. */
async function expectEveryBatchWritten(stderr: string, out: string): Promise<void> {
  const done = /done batches=(\d+) records=(\d+)/.exec(stderr);
  expect(done).not.toBeNull();
  const batches = await readBatches(out);
  expect(batches).toHaveLength(Number(done?.[1]));
  expect(batches.reduce((n, b) => n + (b.total_tickets as number), 0)).toBe(Number(done?.[2]));
}

let dir: string;
beforeAll(async () => {
  // The binary as `bash scripts/setup.sh` builds it, from the current sources.
  await run('pnpm', ['-s', 'exec', 'tsup', '--silent'], { cwd: join(ROOT, 'examples/ticket-pipeline') });
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-launcher-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the ticket-pipeline launcher', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'writes the open batch and exits 0 with nothing left running on %s to its PID',
    async (signal) => {
      const out = join(dir, `metrics-${signal}`);
      const launched = start(LAUNCHER, ['run', '--max-records', '20', '--out', out], dir);
      await launched.stderrContains('JSON metrics written');
      launched.child.kill(signal);
      const result = await launched.done;
      expect(result.stderr).toContain(`${signal} received: writing the open batch, then exiting`);
      expect(result).toMatchObject({ code: 0, signal: null });
      await expectEveryBatchWritten(result.stderr, out);
      expect(alive(pidOf(launched.child))).toBe(false);
      expect(await processesWith(out)).toEqual([]);
    },
  );

  it('exits 0 without "Command failed" when Ctrl-C reaches `pnpm start` and its program', async () => {
    const out = join(dir, 'started');
    // A terminal's Ctrl-C sends SIGINT to the whole foreground process group: pnpm and the program.
    const launched = start(
      'pnpm',
      ['--dir', ROOT, 'start', '--', '--max-records', '20', '--out', out],
      dir,
      true,
    );
    await launched.stderrContains('JSON metrics written');
    process.kill(-pidOf(launched.child), 'SIGINT');
    const result = await launched.done;
    expect(result.stderr).not.toContain('ELIFECYCLE');
    expect(result.stderr).not.toContain('second SIGINT');
    expect(result).toMatchObject({ code: 0, signal: null });
    await expectEveryBatchWritten(result.stderr, out);
    expect(await processesWith(out)).toEqual([]);
  });

  it('writes exactly N JSON lines to a redirected standard output', async () => {
    const file = join(dir, 'tickets.jsonl');
    await run(
      'sh',
      ['-c', `"${LAUNCHER}" generate --count 1000 --seed 1 --bad-fraction 0.01 > tickets.jsonl`],
      {
        cwd: dir,
        env: userEnv(),
      },
    );
    const lines = (await readFile(file, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(1000);
    // No line of pnpm's: the first is a ticket, and every line is one (some deliberately invalid).
    expect(JSON.parse(lines[0] as string)).toHaveProperty('ticket_id');
    expect(lines.filter((line) => line.startsWith('>') || line.includes('ELIFECYCLE'))).toEqual([]);
    // The contract's launcher with -s prints the program's output only, too.
    const viaPnpm = await run('pnpm', ['--dir', ROOT, '-s', 'ticket-pipeline', 'generate', '--count', '7'], {
      cwd: dir,
      env: userEnv(),
    });
    expect(
      viaPnpm.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).ticket_id),
    ).toHaveLength(7);
  });

  it('resolves relative paths against the caller folder, directly and through pnpm', async () => {
    const sub = join(ROOT, '.tmp', `launcher-${process.pid}`);
    await mkdir(sub, { recursive: true });
    try {
      await writeFile(join(sub, 'in.jsonl'), '{}\n');
      const direct = await run('../../ticket-pipeline', ['process', '--input', 'in.jsonl', '--out', 'a'], {
        cwd: sub,
        env: userEnv(),
      });
      expect(direct.stderr).toContain('JSON metrics written → a/batch_00000.json');
      expect(await readBatches(join(sub, 'a'))).toHaveLength(1);
      // pnpm runs scripts from the repository root; the launcher goes back to the caller's folder.
      const viaPnpm = await run(
        'pnpm',
        ['-s', 'ticket-pipeline', 'process', '--input', 'in.jsonl', '--out', 'b'],
        {
          cwd: sub,
          env: userEnv(),
        },
      );
      expect(viaPnpm.stderr).toContain('JSON metrics written → b/batch_00000.json');
      expect(await readBatches(join(sub, 'b'))).toHaveLength(1);
    } finally {
      await rm(sub, { recursive: true, force: true });
    }
  });

  it('accepts a leading -- before the flags, as `pnpm start -- --window 5s` passes them', async () => {
    const viaPnpm = await run(
      'pnpm',
      ['--dir', ROOT, '-s', 'ticket-pipeline', 'generate', '--', '--count', '3'],
      {
        cwd: dir,
        env: userEnv(),
      },
    );
    expect(viaPnpm.stdout.trimEnd().split('\n')).toHaveLength(3);
    const direct = await run(LAUNCHER, ['--', 'generate', '--', '--count', '2'], {
      cwd: dir,
      env: userEnv(),
    });
    expect(direct.stdout.trimEnd().split('\n')).toHaveLength(2);
  });
});

describe('progress on a terminal', () => {
  /** Runs a shell command line under a pseudo-terminal (`script`); returns what the terminal showed. */
  async function onTerminal(commandLine: string): Promise<string> {
    const { stdout } = await run('script', ['-qec', commandLine, '/dev/null'], { cwd: dir, env: userEnv() });
    return stdout.replace(/\r/g, '\n');
  }

  it('draws a bar of records for generate --count, on standard error only', async () => {
    const screen = await onTerminal(`"${LAUNCHER}" generate --count 20000 > tickets.jsonl`);
    expect(screen).toMatch(/=+ 100% \| 20000\/20000 records \| \d+\/s \| ETA 0s/);
    const lines = (await readFile(join(dir, 'tickets.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(20000);
  });

  it('draws a bar of the bytes read for process --input, and nothing with --quiet', async () => {
    await run('sh', ['-c', `"${LAUNCHER}" generate --count 5000 --seed 2 > in.jsonl`], {
      cwd: dir,
      env: userEnv(),
    });
    const screen = await onTerminal(`"${LAUNCHER}" process --input in.jsonl --out m --log-level warn`);
    expect(screen).toMatch(/=+ 100% \| 5000 records, [\d.]+ [kM]B of [\d.]+ [kM]B \| \d+\/s \| ETA 0s/);
    const quiet = await onTerminal(`"${LAUNCHER}" process --input in.jsonl --out q --log-level warn --quiet`);
    expect(quiet).not.toContain('records');
    expect(await readBatches(join(dir, 'q'))).toHaveLength(1);
  });
});
