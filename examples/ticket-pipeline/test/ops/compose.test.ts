import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../support/cli';

const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const DOCKERFILE = join(ROOT, 'deploy/Dockerfile');

/**
 * The compose validator: the Docker CLI's compose plugin when installed, else Debian's docker-compose
 * (scripts/setup-compose.sh installs it). Neither needs a Docker engine for `config`.
 */
function composeCommand(): string[] {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0)
    return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  throw new Error('no compose validator found: run bash scripts/setup-compose.sh');
}

function compose(args: readonly string[]) {
  const [command, ...base] = composeCommand();
  const result = spawnSync(
    command as string,
    [...base, '-f', COMPOSE_FILE, '--project-directory', ROOT, ...args],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, COMPOSE_PROFILES: '' } },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; target: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  profiles?: string[];
  volumes?: Array<string | { type: string; source: string; target: string }>;
  user?: string;
}

function servicesOf(stdout: string): Record<string, Service> {
  return (parse(stdout) as { services: Record<string, Service> }).services;
}

/** `source -> target` of each volume, whichever form the validator prints. */
function mounts(service: Service): Array<{ source: string; target: string }> {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target };
    const [source, target] = v.split(':');
    return { source: source as string, target: target as string };
  });
}

const words = (value: string[] | string | undefined) =>
  Array.isArray(value) ? value.join(' ') : (value ?? '');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-compose-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('docker-compose.yml', () => {
  it('validates, and by default runs Redpanda, the topic, the processor and the producer, not the cloud or scale profile', () => {
    const quiet = compose(['config', '-q']);
    expect(quiet.stderr).toBe('');
    expect(quiet.code).toBe(0);

    const config = compose(['config']);
    expect(config.code).toBe(0);
    const services = servicesOf(config.stdout);
    const byDefault = Object.keys(services)
      .filter((name) => !services[name]?.profiles?.length)
      .sort();
    expect(byDefault).toEqual(['create-topic', 'prepare-output', 'processor', 'producer', 'redpanda']);
    // docker compose v2 leaves inactive profiles out; docker-compose v1 lists them with their profile.
    for (const [name, service] of Object.entries(services)) {
      if (service.profiles?.length) expect([['cloud'], ['scale']], name).toContainEqual(service.profiles);
    }

    const { redpanda, processor, producer } = services as Record<string, Service>;
    const createTopic = services['create-topic'] as Service;
    expect(redpanda?.image).toMatch(/^docker\.redpanda\.com\/redpandadata\/redpanda:v\d+\.\d+\.\d+$/);
    expect(words(redpanda?.command)).toMatch(/redpanda start .*--mode=dev-container .*--smp=1/);
    expect(words(redpanda?.healthcheck?.test)).toContain('rpk cluster health');
    expect(createTopic.depends_on).toEqual({ redpanda: { condition: 'service_healthy' } });
    expect(words(createTopic.command)).toMatch(/rpk topic create client_tickets -p 3/);

    expect(processor?.build).toMatchObject({ dockerfile: 'deploy/Dockerfile', target: 'processor' });
    expect(processor?.depends_on).toEqual({
      'create-topic': { condition: 'service_completed_successfully' },
      'prepare-output': { condition: 'service_completed_successfully' },
    });
    // Inside the container the health port must listen on every interface for the published port to reach it.
    expect(words(processor?.command)).toBe('process --http-port 8080 --http-host 0.0.0.0');
    expect(words(processor?.entrypoint)).toBe('ticket-pipeline');
    expect(words(producer?.entrypoint)).toBe('ticket-pipeline');
    expect(processor?.environment).toMatchObject({
      KAFKA_BROKERS: 'redpanda:9092',
      TICKETFLOW_TOPIC: 'client_tickets',
    });
    expect(words(processor?.healthcheck?.test)).toContain('http://127.0.0.1:8080/healthz');
    expect(mounts(processor as Service)).toEqual([
      { source: join(ROOT, 'ticket_metrics_json'), target: '/app/ticket_metrics_json' },
    ]);
    // It prepares the processor's output and the merger's (scale profile).
    expect(mounts(services['prepare-output'] as Service)).toEqual([
      ...mounts(processor as Service),
      { source: join(ROOT, 'ticket_metrics_json_scale'), target: '/app/ticket_metrics_json_scale' },
    ]);

    expect(producer?.build).toMatchObject({ dockerfile: 'deploy/Dockerfile', target: 'producer' });
    expect(producer?.depends_on).toEqual({ processor: { condition: 'service_healthy' } });
    expect(producer?.environment).toMatchObject({ KAFKA_BROKERS: 'redpanda:9092' });
  });

  it('validates the cloud profile with an env file from .env.example: SASL_SSL with SCRAM, no local broker', async () => {
    const password = `pw-${Date.now().toString(36)}-compose`;
    const example = await readFile(join(ROOT, '.env.example'), 'utf8');
    expect(example).toMatch(/^KAFKA_SASL_PASSWORD=change-me$/m);
    const envFile = join(dir, 'cloud.env');
    await writeFile(envFile, example.replace(/^KAFKA_SASL_PASSWORD=.*$/m, `KAFKA_SASL_PASSWORD=${password}`));

    const quiet = compose(['--env-file', envFile, '--profile', 'cloud', 'config', '-q']);
    expect(quiet.stderr).toBe('');
    expect(quiet.code).toBe(0);
    const config = compose(['--env-file', envFile, '--profile', 'cloud', 'config']);
    expect(config.code).toBe(0);
    const services = servicesOf(config.stdout);
    const processor = services['processor-cloud'] as Service;
    const producer = services['producer-cloud'] as Service;
    for (const service of [processor, producer]) {
      expect(service.profiles).toEqual(['cloud']);
      expect(service.environment).toMatchObject({
        KAFKA_BROKERS: 'seed-0000.abcd.fmc.prd.cloud.redpanda.com:9092',
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
        KAFKA_SASL_USERNAME: 'ticketflow',
        KAFKA_SASL_PASSWORD: password,
        KAFKA_SSL: 'true',
      });
      expect(Object.keys(service.depends_on ?? {})).not.toContain('redpanda');
    }
    expect(processor.depends_on).toEqual({
      'prepare-output-cloud': { condition: 'service_completed_successfully' },
    });
    expect(producer.depends_on).toEqual({ 'processor-cloud': { condition: 'service_healthy' } });
    expect(words(processor.healthcheck?.test)).toContain('/healthz');
    expect(mounts(processor)).toEqual([
      { source: join(ROOT, 'ticket_metrics_json_cloud'), target: '/app/ticket_metrics_json' },
    ]);
  });

  it('validates the scale profile: two partial processors with their own instance ids, one merger writing the files', () => {
    const quiet = compose(['--profile', 'scale', 'config', '-q']);
    expect(quiet.stderr).toBe('');
    expect(quiet.code).toBe(0);
    const config = compose(['--profile', 'scale', 'config']);
    expect(config.code).toBe(0);
    const services = servicesOf(config.stdout);
    const scale = Object.keys(services)
      .filter((name) => services[name]?.profiles?.includes('scale'))
      .sort();
    expect(scale).toEqual(['merger', 'partial-1', 'partial-2', 'producer-scale']);

    // The topic-init step creates the partials topic beside the tickets' topic.
    expect(words(services['create-topic']?.command)).toMatch(/rpk topic create client_tickets\.partials /);

    const partials = [services['partial-1'], services['partial-2']] as Service[];
    expect(partials.map((p) => words(p.command))).toEqual([
      'process --partials-topic client_tickets.partials --instance-id p1 --http-port 8080 --http-host 0.0.0.0',
      'process --partials-topic client_tickets.partials --instance-id p2 --http-port 8080 --http-host 0.0.0.0',
    ]);
    for (const partial of partials) {
      expect(partial.build).toMatchObject({ dockerfile: 'deploy/Dockerfile', target: 'processor' });
      expect(words(partial.entrypoint)).toBe('ticket-pipeline');
      expect(partial.environment).toMatchObject({
        KAFKA_BROKERS: 'redpanda:9092',
        TICKETFLOW_TOPIC: 'client_tickets',
        TICKETFLOW_GROUP: 'ticketflow',
      });
      // A partial processor writes no file: no output folder, and no file setting that it would refuse.
      expect(mounts(partial)).toEqual([]);
      for (const name of ['TICKETFLOW_OUT', 'TICKETFLOW_CHECKPOINT', 'TICKETFLOW_DEAD_LETTERS'])
        expect(Object.keys(partial.environment ?? {})).not.toContain(name);
      expect(partial.depends_on).toEqual({ 'create-topic': { condition: 'service_completed_successfully' } });
      expect(words(partial.healthcheck?.test)).toContain('http://127.0.0.1:8080/healthz');
    }

    const merger = services.merger as Service;
    expect(merger.build).toMatchObject({ dockerfile: 'deploy/Dockerfile', target: 'processor' });
    expect(words(merger.entrypoint)).toBe('ticket-pipeline');
    expect(words(merger.command)).toBe('merge --http-port 8080 --http-host 0.0.0.0');
    expect(merger.environment).toMatchObject({
      KAFKA_BROKERS: 'redpanda:9092',
      TICKETFLOW_PARTIALS_TOPIC: 'client_tickets.partials',
      TICKETFLOW_MERGE_GROUP: 'ticketflow-merge',
      TICKETFLOW_OUT: '/app/ticket_metrics_json_scale',
    });
    // An output of its own: a checkpoint belongs to the topic it was made from.
    expect(mounts(merger)).toEqual([
      { source: join(ROOT, 'ticket_metrics_json_scale'), target: '/app/ticket_metrics_json_scale' },
    ]);
    expect(merger.depends_on).toMatchObject({
      'create-topic': { condition: 'service_completed_successfully' },
      'prepare-output': { condition: 'service_completed_successfully' },
      'partial-1': { condition: 'service_healthy' },
      'partial-2': { condition: 'service_healthy' },
    });
    expect(words(merger.healthcheck?.test)).toContain('http://127.0.0.1:8080/healthz');

    const producer = services['producer-scale'] as Service;
    expect(producer.build).toMatchObject({ dockerfile: 'deploy/Dockerfile', target: 'producer' });
    expect(producer.depends_on).toEqual({ merger: { condition: 'service_healthy' } });
    expect(producer.environment).toMatchObject({
      KAFKA_BROKERS: 'redpanda:9092',
      TICKETFLOW_TOPIC: 'client_tickets',
    });
  });

  it('holds no secret: every credential comes from an interpolated variable', async () => {
    const text = await readFile(COMPOSE_FILE, 'utf8');
    const credentialLines = text.split('\n').filter((line) => /PASSWORD|USERNAME|SECRET|TOKEN/.test(line));
    expect(credentialLines.length).toBeGreaterThan(0);
    for (const line of credentialLines) expect(line).toMatch(/^\s+[A-Z_]+: \$\{[A-Z_]+:-\}$/);
    expect(text).not.toContain('ticketflow-secret');
    expect(text).not.toContain('change-me');
    const ignored = await readFile(join(ROOT, '.dockerignore'), 'utf8');
    expect(ignored.split('\n')).toEqual(expect.arrayContaining(['.env', '**/node_modules']));
    expect(execFileSync('git', ['check-ignore', '.env'], { cwd: ROOT, encoding: 'utf8' }).trim()).toBe(
      '.env',
    );
  });
});

describe('deploy/Dockerfile', () => {
  it('builds in one stage and runs, without root, from a slim one with a processor health check', async () => {
    const text = (await readFile(DOCKERFILE, 'utf8')).replace(/\\\n/g, ' ');
    const stages = [...text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => ({
      image: m[1] as string,
      name: m[2] ?? '',
    }));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.map((s) => s.name)).toEqual(
      expect.arrayContaining(['build', 'runtime', 'processor', 'producer']),
    );
    expect(text).toMatch(/^ARG NODE_IMAGE=node:20-bookworm$/m);
    expect(text).toMatch(/^ARG NODE_RUNTIME_IMAGE=node:20-bookworm-slim$/m);

    const stageText = (name: string) => {
      const start = text.search(new RegExp(`^FROM\\s+\\S+\\s+AS\\s+${name}\\s*$`, 'im'));
      const next = text.slice(start + 1).search(/^FROM\s/im);
      return next === -1 ? text.slice(start) : text.slice(start, start + 1 + next);
    };
    const build = stageText('build');
    for (const pkg of [
      'build-essential',
      'python3',
      'libssl-dev',
      'libsasl2-dev',
      'zlib1g-dev',
      'libzstd-dev',
      'liblz4-dev',
    ]) {
      expect(build).toContain(pkg);
    }
    expect(build).toMatch(/CKJS_LINKING=dynamic/);
    expect(build).toMatch(/pnpm install --offline --frozen-lockfile/);
    expect(build).toMatch(/deploy --prod/);

    const runtime = stageText('runtime');
    for (const pkg of ['libssl3', 'libsasl2-2', 'zlib1g', 'libzstd1', 'liblz4-1', 'ca-certificates']) {
      expect(runtime).toContain(pkg);
    }
    expect(runtime).not.toMatch(/-dev\b|build-essential/);
    const users = [...runtime.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users).toEqual(['node']);
    for (const name of ['processor', 'producer']) expect(stageText(name)).not.toMatch(/^USER\s/m);
    expect(stageText('processor')).toMatch(/^HEALTHCHECK .*\/healthz/m);
    expect(stageText('processor')).toMatch(/^CMD \["process"\]$/m);
    expect(stageText('producer')).toMatch(/^CMD \["produce"\]$/m);
    // The README's launcher: the built ticket-pipeline binary.
    expect(runtime).toMatch(/^ENTRYPOINT \["ticket-pipeline"\]$/m);
    expect(runtime).toMatch(/^RUN ln -s \/app\/dist\/cli\.js \/usr\/local\/bin\/ticket-pipeline$/m);
  });
});
