// Preloaded with NODE_OPTIONS="--import <this file>" by startup.ts: records when the program opens its
// input and when the first block of it arrives, and writes these marks, with Node's own start-up
// timings, as JSON to $TICKETFLOW_MARKS_FILE when the process exits. Times are epoch milliseconds
// (performance.timeOrigin + performance.now()), comparable with the parent's clock.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const file = process.env.TICKETFLOW_MARKS_FILE;
const input = process.env.TICKETFLOW_MARKS_INPUT;
const origin = performance.timeOrigin;
const now = () => origin + performance.now();
const marks = { nodeStart: origin, bootstrapComplete: origin + performance.nodeTiming.bootstrapComplete };
marks.preload = now();

const createReadStream = fs.createReadStream;
fs.createReadStream = function patched(path, ...rest) {
  const stream = createReadStream.call(this, path, ...rest);
  if (input !== undefined && String(path) === input && marks.inputOpened === undefined) {
    marks.inputOpened = now();
    stream.once('open', () => {
      marks.inputOpen = now();
    });
    stream.once('data', () => {
      marks.firstBlock = now();
    });
  }
  return stream;
};
syncBuiltinESMExports();

const write = process.stderr.write;
process.stderr.write = function patched(chunk, ...rest) {
  if (marks.metricsWritten === undefined && String(chunk).includes('JSON metrics written'))
    marks.metricsWritten = now();
  return write.call(this, chunk, ...rest);
};

process.on('exit', () => {
  marks.exit = now();
  if (file !== undefined) fs.writeFileSync(file, JSON.stringify(marks));
});
