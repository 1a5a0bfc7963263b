import { statSync } from 'node:fs';
import { composeSteps, lineSource } from '@ticketflow/core';
import { kafkaDeadLetters, kafkaSource, kafkaText } from '@ticketflow/kafka-source';
import { generate } from './commands/generate';
import { runProcessor } from './commands/processor';
import { produce } from './commands/produce';
import { parseCommandLine } from './config';
import { kafkaConnection } from './kafka-settings';
import { createLogger } from './logger';
import { createProgress } from './progress';
import type { Shutdown } from './shutdown';
import { generatorSource } from './sources/generator-source';
import { ticketDecoder } from './ticket-metrics';

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

/** Exit codes: 0 success, 1 a runtime failure, 2 a usage or configuration error. */
export const EXIT_USAGE = 2;

/**
 * Runs one command line; resolves with the process exit code. `shutdown` is the process's stop request:
 * once aborted, a command finishes what it has started (the open batch, the queued tickets) and resolves.
 */
export async function main(argv: readonly string[], shutdown: Shutdown): Promise<number> {
  const parsed = parseCommandLine(withoutLeadingSeparator(argv));
  if (parsed.command === undefined) return parsed.exitCode;

  switch (parsed.command) {
    case 'generate': {
      const { settings } = parsed;
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
      const source = generatorSource({
        rate: settings.rate,
        badFraction: settings.badFraction,
        ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
      });
      await runProcessor(settings, { source, logger, shutdown });
      return 0;
    }
    case 'process': {
      const { settings } = parsed;
      const secrets = settings.saslPassword ? [settings.saslPassword] : [];
      const logger = createLogger({ level: settings.logLevel, format: settings.logFormat, secrets });
      if (settings.source.kind === 'file') {
        const { path } = settings.source;
        const progress = createProgress({
          unit: 'bytes',
          total: sizeOf(path),
          quiet: settings.quiet ?? false,
        });
        const source = lineSource({ path, onRead: (read) => progress.update(read) });
        try {
          await runProcessor(settings, { source, logger, shutdown });
        } finally {
          progress.stop();
        }
        return 0;
      }
      const connection = kafkaConnection(settings);
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
      await runProcessor(settings, {
        source,
        decode: composeSteps(kafkaText, ticketDecoder()),
        logger,
        shutdown,
        deadLetters,
        lag: () => source.lag(),
        connected: () => source.connected(),
      });
      return 0;
    }
    case 'produce': {
      const { settings } = parsed;
      const secrets = settings.saslPassword ? [settings.saslPassword] : [];
      const logger = createLogger({ level: settings.logLevel, format: settings.logFormat, secrets });
      await produce(settings, kafkaConnection(settings), logger, shutdown);
      return 0;
    }
  }
}
