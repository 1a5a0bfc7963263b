import { type RunningCli, startCli } from '../support/cli';
import { waitFor } from '../support/wait';

/** A CLI child process whose standard input stays open until the test ends it. */
export type { RunningCli } from '../support/cli';

/** Starts the CLI as `pnpm ticket-pipeline` does, with standard input left open. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  return startCli(args, { env, keepInputOpen: true });
}

export { waitFor } from '../support/wait';

/** The port of the processor's HTTP server, from its `http listening on :PORT` line. */
export async function listeningPort(cli: RunningCli): Promise<number> {
  return waitFor(() => {
    const { stderr, stdout } = cli.output();
    const match = /http listening on :(\d+)/.exec(stderr + stdout);
    return match ? Number(match[1]) : undefined;
  }, 'the "http listening on :PORT" line');
}

// HTTP and Prometheus helpers are the ops package's own test support.
export { type HttpResponse, httpGet, parseMetrics } from '../../../../packages/ops/test/support';

import { httpGet, parseMetrics } from '../../../../packages/ops/test/support';

/** Scrapes `/metrics` and parses it. */
export async function scrape(port: number): Promise<Map<string, number>> {
  const response = await httpGet(port, '/metrics');
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parseMetrics(response.body);
}

/** Reads `/healthz`: its status code and its JSON body. */
export async function healthz(port: number): Promise<{
  status: number;
  body: { status: string; healthy: boolean; reasons: string[]; [key: string]: unknown };
}> {
  const response = await httpGet(port, '/healthz');
  return { status: response.status, body: JSON.parse(response.body) };
}
