import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../../../..');
const CLI = join(ROOT, 'examples/ticket-pipeline/src/cli.ts');

/** What a finished CLI run printed. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts the CLI as a child process, as `pnpm ticket-pipeline` does. */
export function startCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const child = spawn(process.execPath, ['--conditions=ticketflow-source', '--import', 'tsx', CLI, ...args], {
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
  if (options.input !== undefined) child.stdin.end(options.input);
  else child.stdin.end();
  const done = new Promise<CliResult>((resolvePromise) => {
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

/** Runs the CLI to its end. */
export function runCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  return startCli(args, options).done;
}

/** Reads every `batch_*.json` file of a folder, in batch order. */
export async function readBatches(folder: string): Promise<Array<Record<string, unknown>>> {
  const names = (await readdir(folder)).filter((n) => /^batch_\d+\.json$/.test(n)).sort();
  return Promise.all(names.map(async (n) => JSON.parse(await readFile(join(folder, n), 'utf8'))));
}
