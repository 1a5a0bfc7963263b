import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { composeSteps, lineSource } from '@ticketflow/core';
import { parseCommandLine } from './config';
import { kafkaConnection } from './kafka-settings';
import { createLogger } from './logger';
import { createProgress } from './progress';
import type { Shutdown } from './shutdown';

/**
 * The command line without a `--` before the command or right after it: `pnpm start -- --window 5s`
 * passes one on, and no command takes positional arguments that it could protect.
 */
export function withoutLeadingSeparator(argv: readonly string[]): string[] {
  const rest = argv[0] === '--' ? argv.slice(1) : [...argv];
  if (rest[1] === '--') rest.splice(1, 1);
  return rest;
}

/** The size of a regular file, for a progress percentage; `undefined` for standard input or a pipe. */
function sizeOf(path: string): number | undefined {
  if (path === '-') return undefined;
  try {
    const stat = statSync(path);
    return stat.isFile() ? stat.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Below this size a file is processed on the main thread alone by default: starting worker threads
 * (about 0.1 s each, loading the fold module) costs more than they save on it.
 */
const PARALLEL_FROM_BYTES = 32 * 1024 * 1024;

/**
 * The default of `--workers`: one worker thread per core for standard input and for files of
 * {@link PARALLEL_FROM_BYTES} or more, none (the main thread) for smaller files.
 */
function defaultWorkers(path: string): number {
  const size = sizeOf(path);
  return size !== undefined && size < PARALLEL_FROM_BYTES ? 1 : availableParallelism();
}

/** Exit codes: 0 success, 1 a runtime failure, 2 a usage or configuration error. */
export const EXIT_USAGE = 2;

/**
 * Runs one command line; each command loads only what it uses (the ticket generator, the Kafka client),
 * so that start-up stays short. Resolves with the process exit code. `shutdown` is the process's stop request:
 * once aborted, a command finishes what it has started (the open batch, the queued tickets) and resolves.
 */
export async function main(argv: readonly string[], shutdown: Shutdown): Promise<number> {
  const parsed = parseCommandLine(withoutLeadingSeparator(argv));
  if (parsed.command === undefined) return parsed.exitCode;

  switch (parsed.command) {
    case 'generate': {
      const { settings } = parsed;
      const { generate } = await import('./commands/generate');
      const progress = createProgress({
        unit: 'records',
        total: settings.count,
        quiet: settings.quiet ?? false,
      });
      try {
        await generate(settings, process.stdout, shutdown.signal, progress);
      } finally {
        progress.stop();
      }
      return 0;
    }
    case 'run': {
      const { settings } = parsed;
      const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });
      const [{ generatorSource }, { runProcessor }] = await Promise.all([
        import('./sources/generator-source'),
        import('./commands/processor'),
      ]);
      // Tickets arrive as in a live system (most seconds old, some minutes or hours late), so that the
      // event-time rollups (--rollups, part of the settings) see hours close and late tickets counted.
      const source = generatorSource({
        rate: settings.rate,
        badFraction: settings.badFraction,
        arrivals: { lateFraction: settings.lateFraction, veryLateFraction: settings.veryLateFraction },
        ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
      });
      await runProcessor(settings, { source, logger, shutdown });
      return 0;
    }
    case 'process': {
      const { settings } = parsed;
      const secrets = settings.saslPassword ? [settings.saslPassword] : [];
      const logger = createLogger({ level: settings.logLevel, format: settings.logFormat, secrets });
      const { runProcessor } = await import('./commands/processor');
      if (settings.source.kind === 'file') {
        const { path } = settings.source;
        const progress = createProgress({
          unit: 'bytes',
          total: sizeOf(path),
          quiet: settings.quiet ?? false,
        });
        const source = lineSource({ path, onRead: (read) => progress.update(read) });
        // Every core by default: worker threads decode and fold, this thread reads and merges.
        const workers = settings.workers ?? defaultWorkers(path);
        try {
          await runProcessor({ ...settings, workers }, { source, logger, shutdown });
        } finally {
          progress.stop();
        }
        return 0;
      }
      const connection = kafkaConnection(settings);
      if (settings.partialsTopic !== undefined) {
        const { runPartials } = await import('./commands/partials');
        await runPartials(settings, connection, logger, shutdown);
        return 0;
      }
      const [{ kafkaDeadLetters, kafkaSource, kafkaText, kafkaValueText }, { ticketDecoder }] =
        await Promise.all([import('@ticketflow/kafka-source'), import('./ticket-metrics')]);
      const source = kafkaSource({
        ...connection,
        topic: settings.topic,
        groupId: settings.group,
        startFrom: settings.startFrom === 'latest' ? 'latest' : 'earliest',
        onDataLoss: settings.onDataLoss,
        ...(settings.instanceId ? { instanceId: settings.instanceId } : {}),
        onEvent: (event) => logger[event.level](event.message),
      });
      const deadLetters = kafkaDeadLetters({
        ...connection,
        topic: settings.deadLetterTopic ?? `${settings.topic}.dlq`,
        onWarning: (m) => logger.warn(m),
      });
      // The Kafka client runs on this thread (its native module loads in one thread only): worker threads
      // (--workers) take the decode and the fold off it.
      await runProcessor(
        { ...settings, workerText: kafkaValueText },
        {
          source,
          decode: composeSteps(kafkaText, ticketDecoder()),
          logger,
          shutdown,
          deadLetters,
        },
      );
      return 0;
    }
    case 'merge': {
      const { settings } = parsed;
      const secrets = settings.saslPassword ? [settings.saslPassword] : [];
      const logger = createLogger({ level: settings.logLevel, format: settings.logFormat, secrets });
      const { runMergeCommand } = await import('./commands/partials');
      await runMergeCommand(settings, kafkaConnection(settings), logger, shutdown);
      return 0;
    }
    case 'produce': {
      const { settings } = parsed;
      const secrets = settings.saslPassword ? [settings.saslPassword] : [];
      const logger = createLogger({ level: settings.logLevel, format: settings.logFormat, secrets });
      const { produce } = await import('./commands/produce');
      await produce(settings, kafkaConnection(settings), logger, shutdown);
      return 0;
    }
  }
}
