/**
 * Kafka drain benchmark: produce tickets to a fresh 6-partition topic first, then time, draining the same
 * topic in the same run:
 *  (a) a plain consumer loop (consume, parse, validate, enrich, count): the floor of consuming alone;
 *  (b) the ticket processor in this process (kafkaSource → engine → JSON batch files → checkpoint → commits);
 *  (c) one `process --out` CLI process;
 *  (d) scale-out: two `process --partials-topic` CLI processes (each batch a Kafka transaction) and one
 *      `merge --out` CLI process, until every ticket is in the merged batch files.
 * (c) and (d) are timed the same way, from spawning the processes to the last ticket in a batch file
 * (start-up and group joins included), so that their ratio compares like with like.
 *
 *   pnpm bench:kafka                 1,000,000 tickets on the local broker (started if needed)
 *   pnpm bench:kafka --count 200000
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  blobCheckpointStore,
  composeSteps,
  createPipeline,
  isRejection,
  localBlobStore,
} from '@ticketflow/core';
import { jsonSink } from '@ticketflow/json-sink';
import { createKafkaProducer, kafkaSource, kafkaText } from '@ticketflow/kafka-source';
import { enrichTicket } from '../examples/ticket-pipeline/src/domain/enrich';
import { generateTickets } from '../examples/ticket-pipeline/src/domain/generator';
import { parseTicket } from '../examples/ticket-pipeline/src/domain/validate';
import {
  formatTicketBatch,
  type TicketMetrics,
  ticketDecoder,
  ticketMetrics,
} from '../examples/ticket-pipeline/src/ticket-metrics';
import { type RunningCli, recordsIn, startCli } from '../examples/ticket-pipeline/test/support/cli';
import { kafkaModule } from '../packages/kafka-source/src/client';
import { BROKERS, createTopic, ensureBroker } from '../packages/kafka-source/test/support/broker';

/** Partitions of the benchmark's topic: the unit of parallelism of the consumer group. */
const PARTITIONS = 6;

async function produce(topic: string, count: number): Promise<number> {
  const started = performance.now();
  const producer = await createKafkaProducer({ brokers: BROKERS, lingerMs: 20 });
  const tickets = generateTickets({ seed: 7, badFraction: 0.01 });
  for (let i = 0; i < count; i++) await producer.send(topic, tickets.next().value);
  await producer.close();
  return performance.now() - started;
}

/** The baseline: a plain consumer loop doing the same per-record work, without the engine. */
async function plainLoop(topic: string, count: number): Promise<number> {
  const Kafka = kafkaModule();
  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': BROKERS,
      'group.id': `plain-${randomUUID()}`,
      'enable.auto.commit': false,
    } as never,
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((ok, fail) => consumer.connect({ timeout: 15_000 }, (e) => (e ? fail(e) : ok())));
  consumer.subscribe([topic]);
  consumer.setDefaultConsumeTimeout(100);
  const context = { lane: topic, offset: 0 };
  const perType = new Map<string, number>();
  let seen = 0;
  const started = performance.now();
  while (seen < count) {
    const messages = await new Promise<Array<{ value?: Buffer | null }>>((ok, fail) =>
      consumer.consume(5000, (e, m) => (e ? fail(e) : ok(m))),
    );
    for (const m of messages) {
      seen++;
      const ticket = parseTicket(m.value?.toString('utf8') ?? '', context);
      if (isRejection(ticket)) continue;
      const t = enrichTicket(ticket);
      perType.set(t.request_type, (perType.get(t.request_type) ?? 0) + 1);
    }
  }
  const ms = performance.now() - started;
  await new Promise<void>((ok) => consumer.disconnect(() => ok()));
  return ms;
}

/** The processor as the CLI builds it, with batch files on local disk. */
async function processor(topic: string, count: number): Promise<{ ms: number; batches: number }> {
  const out = mkdtempSync(join(tmpdir(), 'ticketflow-kafka-bench-'));
  const store = localBlobStore(out);
  const source = kafkaSource({ brokers: BROKERS, topic, groupId: `bench-${randomUUID()}` });
  const pipeline = createPipeline({
    source,
    decode: composeSteps(kafkaText, ticketDecoder()),
    metrics: ticketMetrics,
    sink: jsonSink<TicketMetrics>({ store, format: formatTicketBatch }),
    checkpoint: blobCheckpointStore(store),
    window: { span: '5s', maxRecords: 250_000 },
  });
  let seen = 0;
  let batches = 0;
  pipeline.progress$.subscribe((p) => {
    seen += p.inputRecords;
    batches += 1;
  });
  const started = performance.now();
  const run = pipeline.run();
  // Once every partition is read to its end, stop: the open window is then written and committed at once
  // rather than when its timer fires, and the time measured ends with the last commit.
  const watch = setInterval(() => {
    const lags = source.lag();
    if (lags.length === PARTITIONS && lags.every((p) => p.lag === 0)) {
      clearInterval(watch);
      pipeline.stop();
    }
  }, 20);
  await run;
  const ms = performance.now() - started;
  if (seen !== count) throw new Error(`the processor committed ${seen} records, expected ${count}`);
  rmSync(out, { recursive: true, force: true });
  return { ms, batches };
}

/** Flags both CLI modes share: the same windows (a log line per batch at most: info level). */
const CLI_WINDOW = ['--window', '1s', '--max-records', '100000'];

/** Times of a CLI drain, in ms. */
interface CliTimes {
  /** From spawning the processes to the last record in a batch file. */
  readonly ms: number;
  /** From the last process's "subscribed to" log line (start-up done) to the last record in a batch file. */
  readonly subscribedMs: number;
}

/**
 * Spawns CLI processes and times them until the batch files of `out` hold `count` records; then stops
 * them (SIGTERM, exit 0 expected) and checks the count is exact.
 */
async function drainWithCli(
  name: string,
  commands: readonly (readonly string[])[],
  out: string,
  count: number,
): Promise<CliTimes> {
  const started = performance.now();
  const clis: RunningCli[] = commands.map((args) => startCli(args));
  const subscribed: number[] = [];
  for (const cli of clis) {
    let seen = false;
    cli.child.stderr?.on('data', (text: string) => {
      if (!seen && text.includes('subscribed to ')) {
        seen = true;
        subscribed.push(performance.now());
      }
    });
  }
  try {
    for (;;) {
      for (const cli of clis) {
        if (cli.child.exitCode !== null)
          throw new Error(
            `${name}: a process exited with ${cli.child.exitCode}: ${cli.output().stderr.slice(-2000)}`,
          );
      }
      if ((await recordsIn(out)) >= count) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ended = performance.now();
    const ms = ended - started;
    const subscribedMs = ended - (subscribed.length === clis.length ? Math.max(...subscribed) : started);
    for (const cli of clis) cli.child.kill('SIGTERM');
    const results = await Promise.all(clis.map((cli) => cli.done));
    for (const r of results)
      if (r.code !== 0) throw new Error(`${name}: exit ${r.code}: ${r.stderr.slice(-2000)}`);
    const records = await recordsIn(out);
    if (records !== count)
      throw new Error(`${name}: ${records} records in the batch files, expected ${count}`);
    return { ms, subscribedMs };
  } finally {
    for (const cli of clis)
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  }
}

/** One ordinary processor as a CLI process (`process --out`). */
async function oneProcessorCli(topic: string, count: number): Promise<CliTimes> {
  const out = mkdtempSync(join(tmpdir(), 'ticketflow-kafka-bench-one-'));
  const args = ['process', '--brokers', BROKERS, '--topic', topic, '--group', `bench-one-${randomUUID()}`];
  try {
    return await drainWithCli('one processor', [[...args, '--out', out, ...CLI_WINDOW]], out, count);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Two partial processors and the merge, as CLI processes (`process --partials-topic`, `merge`). */
async function twoPartialsAndMerge(topic: string, count: number): Promise<CliTimes> {
  const out = mkdtempSync(join(tmpdir(), 'ticketflow-kafka-bench-merge-'));
  const partials = `${topic}.partials`;
  const group = `bench-partials-${randomUUID().slice(0, 8)}`;
  const partial = (id: string) => [
    'process',
    '--brokers',
    BROKERS,
    '--topic',
    topic,
    '--group',
    group,
    '--partials-topic',
    partials,
    '--instance-id',
    id,
    ...CLI_WINDOW,
  ];
  const merge = ['merge', '--brokers', BROKERS, '--partials-topic', partials, '--group', `${group}-merge`];
  try {
    return await drainWithCli(
      'two partials + merge',
      [partial('p1'), partial('p2'), [...merge, '--out', out, ...CLI_WINDOW]],
      out,
      count,
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    allowPositionals: true,
    options: { count: { type: 'string', default: '1000000' } },
  });
  const count = Number(values.count);
  ensureBroker();
  const topic = `bench-${randomUUID().slice(0, 8)}`;
  await createTopic(topic, PARTITIONS);
  await createTopic(`${topic}.dlq`, 1);
  await createTopic(`${topic}.partials`, 3);
  const produceMs = await produce(topic, count);
  console.log(`produced ${count.toLocaleString('en')} tickets in ${(produceMs / 1000).toFixed(1)} s`);
  const loopMs = await plainLoop(topic, count);
  const { ms, batches } = await processor(topic, count);
  const one = await oneProcessorCli(topic, count);
  const scaled = await twoPartialsAndMerge(topic, count);
  const rate = (t: number) => Math.round((count * 1000) / t).toLocaleString('en');
  const cli = (t: CliTimes) =>
    `${rate(t.ms).padStart(10)} tickets/s  (spawn to last file; ${rate(t.subscribedMs)} from the last subscription)`;
  console.log(`plain consumer loop          ${rate(loopMs).padStart(10)} tickets/s  (consume-only floor)`);
  console.log(
    `ticket processor (in-proc)   ${rate(ms).padStart(10)} tickets/s  (${batches} batch files, 5 s windows)`,
  );
  console.log(`one processor (CLI)          ${cli(one)}`);
  console.log(`two partials + merge (CLI)   ${cli(scaled)}`);
  console.log(`processor time / loop time = ${(ms / loopMs).toFixed(3)}  (target: ≥ 150,000 tickets/s)`);
  console.log(
    `two partials + merge / one processor = ${(one.ms / scaled.ms).toFixed(2)}× spawn to last file, ` +
      `${(one.subscribedMs / scaled.subscribedMs).toFixed(2)}× from the last subscription (target: ≥ 1.5×; ` +
      `the broker, the processes and the merge share this machine's ${availableParallelism()} cores)`,
  );
}

await main();
