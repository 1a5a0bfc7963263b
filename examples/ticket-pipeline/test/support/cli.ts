import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../../../..');
const CLI = join(ROOT, 'examples/ticket-pipeline/src/cli.ts');
const EARLY_SIGNALS = join(ROOT, 'examples/ticket-pipeline/src/early-signals.mjs');

/** What a finished CLI run printed. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running CLI child process. */
export interface RunningCli {
  readonly child: ReturnType<typeof spawn>;
  /** Everything printed so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves when the process exits. */
  readonly done: Promise<CliResult>;
  /** Writes to standard input (with `keepInputOpen`). */
  write(text: string | Uint8Array): Promise<void>;
  /** Closes standard input. */
  endInput(): void;
}

/** Options of {@link startCli}. */
export interface StartOptions {
  /** Variables added to the environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Standard input, written then closed. Default: closed at once. */
  readonly input?: string;
  /** Leaves standard input open for {@link RunningCli.write}. */
  readonly keepInputOpen?: boolean;
}

/** Starts the CLI as a child process, as `pnpm ticket-pipeline` does. */
export function startCli(args: readonly string[], options: StartOptions = {}): RunningCli {
  const nodeArgs = ['--import', EARLY_SIGNALS, '--conditions=ticketflow-source', '--import', 'tsx'];
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  // The child may exit before reading all of its input; that is for the test to assert, not an error here.
  child.stdin.on('error', () => {});
  if (options.input !== undefined) child.stdin.end(options.input);
  else if (!options.keepInputOpen) child.stdin.end();
  const done = new Promise<CliResult>((resolvePromise) => {
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
  return {
    child,
    done,
    output: () => ({ stdout, stderr }),
    write: (text) =>
      new Promise<void>((resolveWrite, reject) =>
        child.stdin.write(text, (error) => (error ? reject(error) : resolveWrite())),
      ),
    endInput: () => child.stdin.end(),
  };
}

/** Runs the CLI to its end. */
export function runCli(args: readonly string[], options: StartOptions = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

/** Reads every `batch_*.json` file of a folder, in batch order. */
export async function readBatches(folder: string): Promise<Array<Record<string, unknown>>> {
  const names = (await readdir(folder)).filter((n) => /^batch_\d+\.json$/.test(n)).sort();
  return Promise.all(names.map(async (n) => JSON.parse(await readFile(join(folder, n), 'utf8'))));
}

/** Sums `total_tickets + invalid_tickets` over a folder's batch files; 0 when the folder does not exist yet. */
export async function recordsIn(folder: string): Promise<number> {
  try {
    const batches = await readBatches(folder);
    return batches.reduce((s, b) => s + (b.total_tickets as number) + (b.invalid_tickets as number), 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}
