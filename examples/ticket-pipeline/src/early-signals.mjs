// Loaded with `node --import` before the TypeScript loader: records a SIGINT or SIGTERM that arrives
// while the program is still loading, so that it is a graceful stop (exit 0) rather than the default
// exit 143. The program's own handlers (src/shutdown.ts) take over and replay what was recorded.
const early = { signals: [] };
const record = (signal) => early.signals.push(signal);
early.release = () => {
  process.off('SIGINT', record);
  process.off('SIGTERM', record);
  return early.signals;
};
process.on('SIGINT', record);
process.on('SIGTERM', record);
globalThis[Symbol.for('ticketflow.early-signals')] = early;
