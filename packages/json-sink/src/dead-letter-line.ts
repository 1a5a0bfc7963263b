import type { DeadLetter } from '@ticketflow/core';

/** One dead letter as a JSON line: `{"reason":…,"lane":…,"offset":…,"value":…}` and a newline. */
export function deadLetterLine(letter: DeadLetter<unknown>): string {
  return `${JSON.stringify({ reason: letter.reason, lane: letter.lane, offset: letter.offset, value: letter.value })}\n`;
}
