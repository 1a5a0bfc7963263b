import { request } from 'node:http';
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

/** An HTTP response, read to its end. */
export interface HttpResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** A plain GET over a fresh connection. */
export function httpGet(port: number, path: string, method = 'GET'): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (text: string) => {
        body += text;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The samples of a Prometheus text exposition, by `name{labels}` as written (`name` alone without labels). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (match) out.set(match[1] as string, Number(match[2]));
  }
  return out;
}

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
