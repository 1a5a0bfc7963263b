/**
 * Kafka drain benchmark. On one pre-filled 6-partition topic (1,000,000 tickets by default), it times,
 * each from its start to its last record, the fastest of `--repeat` rounds (each round runs every
 * measurement once, so that a drifting load on the machine weighs on all alike):
 *  (a) `kcat -C` reading the topic to its last record (librdkafka without JavaScript): the baseline;
 *  (b) a consume-only loop of the client (`consume(5000)`, counting the records), first at librdkafka's
 *      defaults, then with the source's settings (`KAFKA_CONSUMER_DEFAULTS`): the most the client gives;
 *  (c) the same tuned loop doing the processor's per-record work (parse, validate, enrich, count);
 *  (d) the ticket processor in this process (kafkaSource → engine → JSON batch files → checkpoint → commits);
 *  (e) one `process --out` CLI process;
 *  (f) scale-out: two `process --partials-topic` CLI processes (each batch a Kafka transaction) and one
 *      `merge --out` CLI process, until every ticket is in the merged batch files.
 * (e) and (f) are timed the same way, from spawning the processes to the last ticket in a batch file
 * (start-up and group joins included), so that their ratio compares like with like. Every figure comes
 * with its CPU time (user + system, all threads, all processes of the run) and, for the runs in this
 * process, the share of the time its JavaScript thread was busy (event-loop utilisation): near 1, the
 * run is bound by that thread's CPU; lower, it waits for records.
 *
 *   pnpm bench:kafka                          1,000,000 tickets on the local broker (started if needed)
 *   pnpm bench:kafka --count 200000 --repeat 1
 *   pnpm bench:kafka --topic bench-1a2b3c4d   reuse a topic a previous run filled (printed at its start)
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
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
import {
  createKafkaProducer,
  KAFKA_CONSUMER_DEFAULTS,
  kafkaSource,
  kafkaText,
} from '@ticketflow/kafka-source';
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
import { deleteTopic } from '../packages/kafka-source/test/support/admin';
import { BROKERS, createTopic, ensureBroker } from '../packages/kafka-source/test/support/broker';

/** The client's consumer. */
type KafkaConsumer = InstanceType<ReturnType<typeof kafkaModule>['KafkaConsumer']>;

/** Partitions of the benchmark's topic: the unit of parallelism of the consumer group. */
const PARTITIONS = 6;
/** Messages per `consume` call of the loops: the source's default `batchSize`. */
const BATCH = 5000;

/** One timed run. */
interface Run {
  /** Wall time from its start to its last record, in ms. */
  readonly ms: number;
  /** CPU time (user + system) of every thread and process of the run, in ms; absent when unknown. */
  readonly cpuMs?: number;
  /** Share of the wall time this process's JavaScript thread was busy (0..1); absent for other processes. */
  readonly busy?: number;
}

/** Every run of one measurement, and the fastest. */
interface Measured<T extends Run> {
  readonly best: T;
  readonly runs: T[];
}

/** A measurement to repeat. */
class Measurement<T extends Run> {
  readonly runs: T[] = [];
  constructor(readonly measure: () => Promise<T>) {}
  async once(): Promise<void> {
    this.runs.push(await this.measure());
  }
  result(): Measured<T> {
    return { best: this.runs.reduce((a, b) => (b.ms < a.ms ? b : a)), runs: this.runs };
  }
}

/**
 * Runs every measurement once per round, `repeat` rounds: a machine whose load drifts during the
 * benchmark weighs on every measurement alike.
 */
async function inRounds(repeat: number, measurements: ReadonlyArray<Measurement<Run> | undefined>) {
  for (let round = 0; round < repeat; round++) {
    for (const m of measurements) await m?.once();
  }
}

/** Times `work` in this process: wall time, CPU time and the JavaScript thread's busy share. */
async function inProcess(work: () => Promise<void>): Promise<Run> {
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    ms,
    cpuMs: (used.user + used.system) / 1000,
    busy: performance.eventLoopUtilization(elu).utilization,
  };
}

async function ensureTopic(topic: string, partitions: number): Promise<void> {
  try {
    await createTopic(topic, partitions);
  } catch (error) {
    if (!/already exists/i.test(String((error as Error).message))) throw error;
  }
}

/** Records in `topic`: the sum over its partitions of the log end offset minus the log start offset. */
async function recordsInTopic(topic: string): Promise<number> {
  const consumer = new (kafkaModule().KafkaConsumer)(
    { 'bootstrap.servers': BROKERS, 'group.id': `bench-count-${randomUUID()}` },
    {},
  );
  await new Promise<void>((ok, fail) => consumer.connect({ timeout: 15_000 }, (e) => (e ? fail(e) : ok())));
  try {
    let total = 0;
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const marks = await new Promise<{ lowOffset: number; highOffset: number }>((ok, fail) =>
        consumer.queryWatermarkOffsets(topic, partition, 10_000, (e, m) => (e ? fail(e) : ok(m))),
      );
      total += marks.highOffset - marks.lowOffset;
    }
    return total;
  } finally {
    await new Promise<void>((ok) => consumer.disconnect(() => ok()));
  }
}

async function produce(topic: string, count: number): Promise<number> {
  const started = performance.now();
  const producer = await createKafkaProducer({ brokers: BROKERS, lingerMs: 20 });
  const tickets = generateTickets({ seed: 7, badFraction: 0.01 });
  for (let i = 0; i < count; i++) await producer.send(topic, tickets.next().value);
  await producer.close();
  return performance.now() - started;
}

/** True when `kcat` is on the PATH. */
function hasKcat(): boolean {
  return spawnSync('kcat', ['-V'], { stdio: 'ignore' }).error === undefined;
}

/**
 * `kcat -C … -e -o beginning -c COUNT -q | wc -l`, timed from spawning it to its exit; its CPU time (and
 * that of `wc`) from the shell's `times`. `-c` makes it exit at the last record, as the loops and the
 * processor stop: with `-e` alone it also waits for an empty fetch to see the end of each partition
 * (about 1 s on an empty topic here).
 */
function kcatDrain(topic: string, count: number): Promise<Run> {
  const script = `kcat -C -b ${BROKERS} -t ${topic} -e -o beginning -c ${count} -q | wc -l; times`;
  const started = performance.now();
  return new Promise<Run>((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
    });
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const [lines, , children] = out.trim().split('\n');
      if (code !== 0 || Number(lines) !== count) {
        reject(new Error(`kcat read ${lines} records of ${count} (exit ${code})`));
        return;
      }
      // `times`: the shell's user and system time, then its children's, as `0m1.234s 0m0.567s`.
      const seconds = (children ?? '')
        .trim()
        .split(/\s+/)
        .map((t) => {
          const m = /^(\d+)m([\d.]+)s$/.exec(t);
          return m ? Number(m[1]) * 60 + Number(m[2]) : Number.NaN;
        });
      const cpu = seconds.reduce((a, b) => a + b, 0);
      resolve(Number.isFinite(cpu) ? { ms, cpuMs: cpu * 1000 } : { ms });
    });
    child.on('error', reject);
  });
}

/**
 * A plain loop of the client, without the engine: `consume(5000)` as the source calls it (the poll waits
 * for its first message only), from subscribing to the last record. `work: 'count'` only counts the
 * records and their bytes; `'decode'` also parses, validates and enriches each ticket and counts them by
 * type, as the processor does.
 */
async function consumeLoop(
  topic: string,
  count: number,
  settings: Readonly<Record<string, string | number | boolean>>,
  work: 'count' | 'decode',
): Promise<Run> {
  const consumer: KafkaConsumer = new (kafkaModule().KafkaConsumer)(
    {
      'bootstrap.servers': BROKERS,
      'group.id': `bench-loop-${randomUUID()}`,
      'enable.auto.commit': false,
      ...settings,
    } as never,
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((ok, fail) => consumer.connect({ timeout: 15_000 }, (e) => (e ? fail(e) : ok())));
  consumer.setDefaultConsumeTimeout(100);
  (
    consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void }
  ).setDefaultIsTimeoutOnlyForFirstMessage(true);
  const context = { lane: topic, offset: 0 };
  const perType = new Map<string, number>();
  let seen = 0;
  let bytes = 0;
  const run = await inProcess(async () => {
    consumer.subscribe([topic]);
    while (seen < count) {
      const messages = await new Promise<Array<{ value?: Buffer | null }>>((ok, fail) =>
        consumer.consume(BATCH, (e, m) => (e ? fail(e) : ok(m))),
      );
      for (const m of messages) {
        seen++;
        if (work === 'count') {
          bytes += m.value?.length ?? 0;
          continue;
        }
        const ticket = parseTicket(m.value?.toString('utf8') ?? '', context);
        if (isRejection(ticket)) continue;
        const t = enrichTicket(ticket);
        perType.set(t.request_type, (perType.get(t.request_type) ?? 0) + 1);
      }
    }
  });
  await new Promise<void>((ok) => consumer.disconnect(() => ok()));
  if (seen !== count || (work === 'count' && bytes === 0))
    throw new Error(`the loop read ${seen} records, expected ${count}`);
  return run;
}

/** The processor as the CLI builds it, with batch files on local disk, in this process. */
async function processor(topic: string, count: number): Promise<Run> {
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
  pipeline.progress$.subscribe((p) => {
    seen += p.inputRecords;
  });
  const run = await inProcess(async () => {
    const running = pipeline.run();
    // Once every partition is read to its end (lag 0: every record handed to the engine), stop: the open
    // window is then written and committed at once rather than when its timer fires, and the time
    // measured ends with the last commit.
    const watch = setInterval(() => {
      const lags = source.lag();
      if (lags.length === PARTITIONS && lags.every((p) => p.lag === 0)) {
        clearInterval(watch);
        pipeline.stop();
      }
    }, 20);
    await running;
  });
  rmSync(out, { recursive: true, force: true });
  if (seen !== count) throw new Error(`the processor committed ${seen} records, expected ${count}`);
  return run;
}

/** Clock ticks per second of `/proc/<pid>/stat` times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) of a running process so far, in ms, from `/proc` (Linux); else undefined. */
function cpuOfProcess(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Flags both CLI modes share: the same windows (a log line per batch at most: info level). */
const CLI_WINDOW = ['--window', '1s', '--max-records', '100000'];

/** Times of a CLI drain. */
interface CliRun extends Run {
  /** From the last process's "subscribed to" log line (start-up done) to the last record in a batch file. */
  readonly subscribedMs: number;
}

/**
 * Spawns CLI processes and times them until the batch files of `out` hold `count` records; then stops
 * them (SIGTERM, exit 0 expected) and checks the count is exact. The CPU time is the processes' own,
 * read when the last record is in a file.
 */
async function drainWithCli(
  name: string,
  commands: readonly (readonly string[])[],
  out: string,
  count: number,
): Promise<CliRun> {
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
    const cpus = clis.map((cli) => cpuOfProcess(cli.child.pid));
    const cpuMs = cpus.every((c) => c !== undefined) ? cpus.reduce((a, b) => a + b, 0) : undefined;
    const ms = ended - started;
    const subscribedMs = ended - (subscribed.length === clis.length ? Math.max(...subscribed) : started);
    for (const cli of clis) cli.child.kill('SIGTERM');
    const results = await Promise.all(clis.map((cli) => cli.done));
    for (const r of results)
      if (r.code !== 0) throw new Error(`${name}: exit ${r.code}: ${r.stderr.slice(-2000)}`);
    const records = await recordsIn(out);
    if (records !== count)
      throw new Error(`${name}: ${records} records in the batch files, expected ${count}`);
    return cpuMs === undefined ? { ms, subscribedMs } : { ms, subscribedMs, cpuMs };
  } finally {
    for (const cli of clis)
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  }
}

/**
 * One ordinary processor as a CLI process (`process --out`); with `workers`, its decode and fold on that
 * many worker threads (`--workers`), the client on the main thread.
 */
async function oneProcessorCli(topic: string, count: number, workers = 1): Promise<CliRun> {
  const out = mkdtempSync(join(tmpdir(), 'ticketflow-kafka-bench-one-'));
  const args = ['process', '--brokers', BROKERS, '--topic', topic, '--group', `bench-one-${randomUUID()}`];
  args.push('--workers', String(workers));
  try {
    return await drainWithCli('one processor', [[...args, '--out', out, ...CLI_WINDOW]], out, count);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Two partial processors and the merge, as CLI processes (`process --partials-topic`, `merge`). */
async function twoPartialsAndMerge(topic: string, count: number): Promise<CliRun> {
  const out = mkdtempSync(join(tmpdir(), 'ticketflow-kafka-bench-merge-'));
  const id = randomUUID().slice(0, 8);
  // A partials topic of its own: the merge reads every partial in it from the beginning.
  const partials = `${topic}.partials-${id}`;
  await createTopic(partials, 3);
  const group = `bench-partials-${id}`;
  const partial = (instance: string) => [
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
    instance,
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
    await deleteTopic(partials).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    allowPositionals: true,
    options: {
      count: { type: 'string', default: '1000000' },
      repeat: { type: 'string', default: '3' },
      topic: { type: 'string' },
    },
  });
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error('--repeat must be a whole number from 1');
  ensureBroker();
  const loadAtStart = loadavg();
  let topic: string;
  let count: number;
  if (values.topic !== undefined) {
    topic = values.topic;
    count = await recordsInTopic(topic);
    console.log(`topic ${topic}: ${count.toLocaleString('en')} tickets, ${PARTITIONS} partitions (reused)`);
  } else {
    count = Number(values.count);
    topic = `bench-${randomUUID().slice(0, 8)}`;
    await createTopic(topic, PARTITIONS);
    const produceMs = await produce(topic, count);
    console.log(
      `topic ${topic}: ${count.toLocaleString('en')} tickets, ${PARTITIONS} partitions, produced in ` +
        `${(produceMs / 1000).toFixed(1)} s (reuse it with --topic ${topic})`,
    );
  }
  await ensureTopic(`${topic}.dlq`, 1);

  const kcatRuns = hasKcat() ? new Measurement(() => kcatDrain(topic, count)) : undefined;
  const loopDefaultsRuns = new Measurement(() => consumeLoop(topic, count, {}, 'count'));
  const loopTunedRuns = new Measurement(() => consumeLoop(topic, count, KAFKA_CONSUMER_DEFAULTS, 'count'));
  const loopWorkRuns = new Measurement(() => consumeLoop(topic, count, KAFKA_CONSUMER_DEFAULTS, 'decode'));
  const inProcRuns = new Measurement(() => processor(topic, count));
  const oneRuns = new Measurement(() => oneProcessorCli(topic, count));
  const workers = Math.max(2, availableParallelism());
  const oneWorkersRuns = new Measurement(() => oneProcessorCli(topic, count, workers));
  const scaledRuns = new Measurement(() => twoPartialsAndMerge(topic, count));
  await inRounds(repeat, [
    kcatRuns,
    loopDefaultsRuns,
    loopTunedRuns,
    loopWorkRuns,
    inProcRuns,
    oneRuns,
    oneWorkersRuns,
    scaledRuns,
  ]);
  const kcat = kcatRuns?.result();
  const loopDefaults = loopDefaultsRuns.result();
  const loopTuned = loopTunedRuns.result();
  const loopWork = loopWorkRuns.result();
  const inProc = inProcRuns.result();
  const one = oneRuns.result();
  const oneWorkers = oneWorkersRuns.result();
  const scaled = scaledRuns.result();
  const loadAtEnd = loadavg();

  const rate = (run: Run) => (count * 1000) / run.ms;
  const fmt = (n: number) => Math.round(n).toLocaleString('en');
  const ratio = (run: Run, base: Run | undefined, name: string) =>
    base === undefined ? '' : `${(rate(run) / rate(base)).toFixed(2)}× ${name}`;
  const line = (label: string, result: Measured<Run>, ratios: string[], extra = ''): string => {
    const { best, runs } = result;
    const cpu = best.cpuMs === undefined ? '     n/a' : `${(best.cpuMs / 1000).toFixed(1).padStart(8)}`;
    const busy = best.busy === undefined ? '     ' : best.busy.toFixed(2).padStart(5);
    const all = runs.length > 1 ? `  [runs: ${runs.map((r) => fmt(rate(r))).join(', ')}]` : '';
    return (
      `${label.padEnd(36)}${fmt(rate(best)).padStart(10)}${(best.ms / 1000).toFixed(1).padStart(7)}${cpu}` +
      `${busy}   ${ratios.filter((r) => r !== '').join(', ')}${extra}${all}`
    );
  };
  const kcatBest = kcat?.best;
  const tuned = loopTuned.best;
  console.log(
    `\n${availableParallelism()} cores; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} at the start, ` +
      `${loadAtEnd.map((l) => l.toFixed(2)).join(' ')} at the end; best of ${repeat} run(s) each; ` +
      `tuned = ${JSON.stringify(KAFKA_CONSUMER_DEFAULTS)}`,
  );
  console.log(
    `${''.padEnd(36)}${'tickets/s'.padStart(10)}${'s'.padStart(7)}${'CPU-s'.padStart(8)} busy   ratios`,
  );
  if (kcat !== undefined) console.log(line('kcat -C (baseline)', kcat, ['1.00× kcat']));
  else
    console.log('kcat -C                             not run: kcat is not installed (apt-get install kcat)');
  console.log(
    line('consume-only loop, defaults', loopDefaults, [ratio(loopDefaults.best, kcatBest, 'kcat')]),
  );
  console.log(
    line('consume-only loop, tuned', loopTuned, [
      ratio(tuned, kcatBest, 'kcat'),
      ratio(tuned, loopDefaults.best, 'loop at defaults'),
    ]),
  );
  console.log(
    line('tuned loop + per-record work', loopWork, [
      ratio(loopWork.best, kcatBest, 'kcat'),
      ratio(loopWork.best, tuned, 'tuned loop'),
    ]),
  );
  console.log(
    line('one processor (in-process)', inProc, [
      ratio(inProc.best, kcatBest, 'kcat (target ≥ 0.3)'),
      ratio(inProc.best, tuned, 'tuned loop (target ≥ 0.9)'),
      ratio(inProc.best, loopWork.best, 'loop + work'),
    ]),
  );
  const sinceSubscribed = (run: CliRun) =>
    ` (${fmt((count * 1000) / run.subscribedMs)}/s from the last subscription)`;
  console.log(
    line(
      'one processor (CLI, spawn to file)',
      one,
      [ratio(one.best, kcatBest, 'kcat'), ratio(one.best, tuned, 'tuned loop')],
      sinceSubscribed(one.best),
    ),
  );
  console.log(
    line(
      `one processor, ${workers} workers (CLI)`,
      oneWorkers,
      [
        ratio(oneWorkers.best, kcatBest, 'kcat (target ≥ 0.3)'),
        ratio(oneWorkers.best, tuned, 'tuned loop (target ≥ 0.9)'),
        ratio(oneWorkers.best, one.best, 'one processor CLI'),
      ],
      sinceSubscribed(oneWorkers.best),
    ),
  );
  console.log(
    line(
      'two partials + merge (CLI)',
      scaled,
      [
        ratio(scaled.best, kcatBest, 'kcat'),
        ratio(scaled.best, one.best, 'one processor CLI (target ≥ 1.5)'),
      ],
      sinceSubscribed(scaled.best),
    ),
  );
  console.log(
    `two partials + merge / one processor from the last subscription = ` +
      `${(one.best.subscribedMs / scaled.best.subscribedMs).toFixed(2)}× (the broker, the processes and the ` +
      `merge share this machine's ${availableParallelism()} cores)`,
  );
}

await main();
