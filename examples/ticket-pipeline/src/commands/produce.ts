import { createKafkaProducer, type KafkaConnectionOptions } from '@ticketflow/kafka-source';
import { generateTickets } from '../domain/generator';
import type { Logger } from '../logger';
import type { Shutdown } from '../shutdown';

/** Settings of the `produce` command. */
export interface ProduceSettings {
  readonly topic: string;
  readonly rate: number;
  readonly count: number | undefined;
  readonly seed: number | undefined;
  readonly badFraction: number;
}

/**
 * Produces synthetic tickets: `count` as fast as the brokers take them then exits, or `rate` per second
 * until Ctrl-C or SIGTERM, flushing what is queued before it exits.
 */
export async function produce(
  settings: ProduceSettings,
  connection: KafkaConnectionOptions,
  logger: Logger,
  shutdown: Shutdown,
): Promise<void> {
  shutdown.onSecondSignal = (signal) => logger.warn(`second ${signal}: exiting without flushing`);
  if (shutdown.signal.aborted) return;
  const producer = await createKafkaProducer({ ...connection, onWarning: (m) => logger.warn(m) });
  const tickets = generateTickets({ seed: settings.seed ?? Date.now(), badFraction: settings.badFraction });
  const counted = settings.count !== undefined;
  let stopping: boolean = shutdown.signal.aborted;
  const onStop = () => {
    stopping = true;
    logger.info(`${shutdown.received ?? 'stop'} received: flushing queued tickets, then exiting`);
  };
  shutdown.signal.addEventListener('abort', onStop, { once: true });

  let sent = 0;
  let delivered = 0;
  let failed = 0;
  const verbose = !counted || logger.enabled('debug');
  const onDelivery = (
    error: Error | undefined,
    d: { topic: string; partition: number; offset: number } | undefined,
  ) => {
    if (error) {
      failed += 1;
      logger.error(`delivery failed: ${error.message}`);
    } else if (d) {
      delivered += 1;
      if (verbose)
        logger[counted ? 'debug' : 'info'](`Delivered to ${d.topic} [${d.partition}] @ offset ${d.offset}`);
    }
  };
  const started = Date.now();
  let lastProgress = started;
  try {
    logger.info(
      counted
        ? `producing ${settings.count} tickets to ${settings.topic}`
        : `producing ${settings.rate} tickets/s to ${settings.topic} (Ctrl-C stops)`,
    );
    while (!stopping && (!counted || sent < (settings.count as number))) {
      if (counted) {
        const n = Math.min(10_000, (settings.count as number) - sent);
        for (let i = 0; i < n; i++) {
          const value = tickets.next().value;
          if (logger.enabled('debug')) logger.debug(`Produced: ${value}`);
          await producer.send(settings.topic, value, { onDelivery });
        }
        sent += n;
        if (Date.now() - lastProgress >= 1000) {
          lastProgress = Date.now();
          logger.info(`progress: ${sent}/${settings.count} queued, ${delivered} delivered`);
        }
        await new Promise((resolve) => setImmediate(resolve));
      } else {
        const tickStarted = Date.now();
        const due = Math.floor(((tickStarted - started) / 1000) * settings.rate) - sent;
        for (let i = 0; i < due; i++) {
          const value = tickets.next().value;
          logger.info(`Produced: ${value}`);
          await producer.send(settings.topic, value, { onDelivery });
        }
        sent += Math.max(0, due);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  } finally {
    shutdown.signal.removeEventListener('abort', onStop);
    await producer.close();
  }
  logger.info(`produced ${sent} tickets to ${settings.topic}: ${delivered} delivered, ${failed} failed`);
  if (failed > 0) throw new Error(`${failed} tickets were not delivered`);
}
