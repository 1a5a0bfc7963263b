/**
 * Kafka drain benchmark: produce tickets to a fresh topic first, then time (a) a plain consumer loop
 * (consume, parse, validate, enrich, count) and (b) the ticket processor (kafkaSource → engine → JSON
 * batch files → checkpoint → commits) draining the same topic, in the same run.
 *
 *   pnpm bench:kafka                 1,000,000 tickets on the local broker (started if needed)
 *   pnpm bench:kafka --count 200000
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
import { kafkaModule } from '../packages/kafka-source/src/client';
import { BROKERS, createTopic, ensureBroker } from '../packages/kafka-source/test/support/broker';

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
    if (lags.length === 3 && lags.every((p) => p.lag === 0)) {
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    allowPositionals: true,
    options: { count: { type: 'string', default: '1000000' } },
  });
  const count = Number(values.count);
  ensureBroker();
  const topic = `bench-${randomUUID().slice(0, 8)}`;
  await createTopic(topic, 3);
  const produceMs = await produce(topic, count);
  console.log(`produced ${count.toLocaleString('en')} tickets in ${(produceMs / 1000).toFixed(1)} s`);
  const loopMs = await plainLoop(topic, count);
  const { ms, batches } = await processor(topic, count);
  const rate = (t: number) => Math.round((count * 1000) / t).toLocaleString('en');
  console.log(`plain consumer loop   ${rate(loopMs).padStart(10)} tickets/s`);
  console.log(
    `ticket processor      ${rate(ms).padStart(10)} tickets/s  (${batches} batch files, 5 s windows)`,
  );
  console.log(`processor time / loop time = ${(ms / loopMs).toFixed(3)}  (target: ≥ 150,000 tickets/s)`);
}

await main();
