/**
 * The `ticket-pipeline` command. The stop request is installed before anything else loads, so that a
 * SIGINT or SIGTERM at any moment, start-up included, is a graceful stop with exit code 0.
 *
 * @module
 */
import { installShutdown } from './shutdown';

const shutdown = installShutdown();

/** Exit code of a runtime failure. */
const EXIT_FAILURE = 1;

const [
  { main, EXIT_USAGE },
  { describeValue, firstLine, TicketflowError },
  { ambientSecrets, secretScrubber },
] = await Promise.all([import('./main'), import('@ticketflow/core'), import('./logger')]);
const scrub = secretScrubber(ambientSecrets());

main(process.argv.slice(2), shutdown).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = firstLine(describeValue(error instanceof Error ? error.message : error));
    process.stderr.write(`ticket-pipeline: ${scrub(message)}\n`);
    process.exitCode =
      error instanceof TicketflowError && error.code === 'INVALID_OPTION' ? EXIT_USAGE : EXIT_FAILURE;
  },
);
