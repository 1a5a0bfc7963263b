import { Agent, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { HealthReport } from '../src/health';
import { startOpsServer } from '../src/http-server';
import { httpGet } from './support';

function report(healthy: boolean): HealthReport {
  return {
    status: healthy ? 'ok' : 'failing',
    healthy,
    reasons: healthy ? [] : ['writing to the output fails: EIO'],
    source: { name: 'generator', connected: null },
    sink: { failing: !healthy, lastError: healthy ? null : 'EIO' },
    lastBatch: null,
    uptimeSeconds: 1,
  };
}

describe('operations HTTP server', () => {
  it('answers /healthz with 200 or 503 and the report, /metrics with the text, 404 and 405 otherwise', async () => {
    let healthy = true;
    const server = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      health: () => report(healthy),
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'x_total 1\n' }),
    });
    try {
      expect(server.port).toBeGreaterThan(0);
      const ok = await httpGet(server.port, '/healthz');
      expect(ok.status).toBe(200);
      expect(ok.contentType).toMatch(/^application\/json/);
      expect(JSON.parse(ok.body)).toEqual(report(true));
      healthy = false;
      const failing = await httpGet(server.port, '/healthz?verbose=1');
      expect(failing.status).toBe(503);
      expect(JSON.parse(failing.body)).toMatchObject({
        status: 'failing',
        reasons: ['writing to the output fails: EIO'],
      });
      const metrics = await httpGet(server.port, '/metrics');
      expect(metrics).toEqual({
        status: 200,
        contentType: 'text/plain; version=0.0.4; charset=utf-8',
        body: 'x_total 1\n',
      });
      expect((await httpGet(server.port, '/')).status).toBe(404);
      expect((await httpGet(server.port, '/metrics', 'DELETE')).status).toBe(405);
      const head = await httpGet(server.port, '/healthz', 'HEAD');
      expect(head.status).toBe(503);
      expect(head.body).toBe('');
    } finally {
      await server.close();
    }
  });

  it('answers 500 with a JSON error when the metrics cannot be rendered', async () => {
    const server = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      health: () => report(true),
      metrics: async () => {
        throw new Error('collector broke');
      },
    });
    try {
      const response = await httpGet(server.port, '/metrics');
      expect(response.status).toBe(500);
      expect(JSON.parse(response.body)).toEqual({ error: 'collector broke' });
    } finally {
      await server.close();
    }
  });

  it('refuses a port in use with a one-line error naming --http-port', async () => {
    const first = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      health: () => report(true),
      metrics: async () => ({ contentType: 't', body: '' }),
    });
    try {
      await expect(
        startOpsServer({
          port: first.port,
          host: '127.0.0.1',
          portSetting: '--http-port',
          health: () => report(true),
          metrics: async () => ({ contentType: 't', body: '' }),
        }),
      ).rejects.toThrow(
        new RegExp(
          `^--http-port ${first.port}: cannot listen on 127\\.0\\.0\\.1:${first.port} \\(address in use\\)$`,
        ),
      );
    } finally {
      await first.close();
    }
  });

  it('closes even while a client holds a keep-alive connection open', async () => {
    const server = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      health: () => report(true),
      metrics: async () => ({ contentType: 't', body: '' }),
    });
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port: server.port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    await server.close();
    agent.destroy();
    await expect(httpGet(server.port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });
});
