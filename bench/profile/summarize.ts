/**
 * Attributes the self time of a V8 CPU profile (`node --cpu-prof`) to the steps of the ticket pipeline,
 * and prints each step's milliseconds, microseconds per ticket and share.
 *
 *   node --import tsx bench/profile/summarize.ts [--tickets 1000000] [--top 25] [--json] A.cpuprofile...
 *
 * Each sample's frame is mapped back to its TypeScript source through the bundle's source map (the
 * launcher runs the tsup bundle `examples/ticket-pipeline/dist/cli.js`, whose `.js.map` files lie next
 * to it), then given a category by the source file it lies in:
 *
 * | category   | frames                                                                              |
 * | ---------- | ----------------------------------------------------------------------------------- |
 * | startup    | anything under Node's module loader (`node:internal/modules/…`): loading, compiling |
 * |            | and evaluating modules, the synchronous part of the program's top level             |
 * | read       | `line-source.ts` and what it calls (`Buffer` `toString`, `isUtf8`, `concat`), and     |
 * |            | Node's file streams when nothing else called them                                   |
 * | JSON.parse | the self time of `parseTicket`: V8 shows no frame of its own for the `JSON.parse`   |
 * |            | builtin, so its time is the caller's; `parseTicket` itself only checks for a BOM    |
 * | validate   | the rest of `domain/validate.ts` (`validateTicket`, `parseRfc3339`, look-ups)        |
 * | enrich     | `domain/enrich.ts`, `domain/utc.ts`, and the decode step of `ticketDecoder`         |
 * | fold       | the aggregators (`count`, `countBy`, `mean`, `groupBy`, `metrics` and its generated |
 * |            | `add`, `mapResult`), the field accessors of `ticket-metrics.ts`                     |
 * | sketch     | `quantile-sketch.ts`, `trino-tdigest.ts`, the `tdigest`/`digest`/`quantiles` wrappers |
 * | engine     | `micro-batch.ts`, `decode-records.ts`, `recovery.ts`, `event-time-windows.ts`,      |
 * |            | `pipeline.ts`, `steps.ts` (`composeSteps`), `rejection.ts`, RxJS                    |
 * | output     | sink, checkpoint, lease, dead letters, logger (`json-sink`, `checkpoint.ts`, pino…) |
 * | GC         | V8's `(garbage collector)` node                                                     |
 * | other      | the rest (`(program)`: native code outside JavaScript, and unmatched frames)        |
 *
 * A frame of native code or of Node's own JavaScript (an `Array.push`, a `Map.get`, `Buffer.toString`,
 * `fs.writeFile`) takes the category of its nearest caller that has one. `(idle)`, time the
 * process waited with nothing to run, is reported apart and is in no share. Shares are of the busy time
 * (every category but idle); µs per ticket divide by `--tickets` (the input's lines, valid or not).
 * V8 attributes the code it inlines to the function it was inlined into, so that time moves between
 * neighbouring steps from run to run (the enricher is inlined into the decode step, for instance); the
 * step timings of steps.ts do not depend on it.
 *
 * The samples are taken on the wall clock: time the thread was ready to run but another process held
 * the CPU counts for whatever it was running. Given several profiles of the same run, it names the
 * best: the least sampled time outside start-up.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export const CATEGORIES = [
  'read',
  'JSON.parse',
  'validate',
  'enrich',
  'fold',
  'sketch',
  'engine',
  'output',
  'startup',
  'GC',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

/**
 * Node's file streams: their frames (and Node's own frames beneath them, such as `events.emit`) count
 * as reading when no caller of theirs has a category, as when libuv hands a block read to the stream.
 */
const STREAMS = /^node:internal\/(fs|streams)\/|^node:(fs|stream)$/;

/** Categories given by a frame's source (mapped through the source map when there is one). */
const BY_SOURCE: readonly (readonly [Category, RegExp])[] = [
  ['read', /line-source\.ts$/],
  ['validate', /domain\/validate\.ts$/],
  ['enrich', /domain\/(enrich|utc)\.ts$/],
  ['sketch', /quantile-sketch\.ts$|trino-tdigest\.ts$|aggregators\/(tdigest|quantiles)\.ts$/],
  ['fold', /aggregators\/[^/]+\.ts$|core\/src\/aggregator\.ts$|ticket-metrics\.ts$/],
  [
    'engine',
    /micro-batch\.ts$|decode-records\.ts$|recovery\.ts$|event-time(-windows)?\.ts$|core\/src\/pipeline\.ts$|core\/src\/steps\.ts$|core\/src\/rejection\.ts$|core\/src\/state-codec\.ts$|\/rxjs\//,
  ],
  [
    'output',
    /json-sink\/|core\/src\/(checkpoint|lease|dead-letter|local-blob-store|blob-store|batch|retry|progress|pipeline-events)\.ts$|ticket-pipeline\/src\/(output|logger|progress)\.ts$|\/(pino|thread-stream|sonic-boom|pino-std-serializers|fast-redact|quick-format-unescaped|on-exit-leak-free)\//,
  ],
];

interface Location {
  /** The TypeScript source (through the source map), else the script's URL; `''` for native code. */
  readonly source: string;
  /** 1-based line in `source`, or 0. */
  readonly line: number;
}

/** Maps generated positions back to sources, one source map per script, loaded once. */
class Locator {
  private readonly maps = new Map<string, SourceMap | null>();

  locate(frame: CallFrame): Location {
    const { url } = frame;
    if (!url.startsWith('file://')) return { source: url, line: frame.lineNumber + 1 };
    const map = this.mapOf(url);
    const path = fileURLToPath(url);
    if (map === null) return { source: path, line: frame.lineNumber + 1 };
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as {
      originalSource?: string;
      originalLine?: number;
    };
    if (entry.originalSource === undefined) return { source: path, line: frame.lineNumber + 1 };
    const original = entry.originalSource.startsWith('file://')
      ? fileURLToPath(entry.originalSource)
      : resolve(dirname(path), entry.originalSource);
    return { source: original, line: (entry.originalLine ?? 0) + 1 };
  }

  private mapOf(url: string): SourceMap | null {
    let map = this.maps.get(url);
    if (map !== undefined) return map;
    map = null;
    try {
      const path = fileURLToPath(url);
      const text = readFileSync(path, 'utf8');
      const reference = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
      if (reference !== undefined) {
        const payload = reference.startsWith('data:')
          ? Buffer.from(reference.slice(reference.indexOf(',') + 1), 'base64').toString('utf8')
          : readFileSync(resolve(dirname(path), reference), 'utf8');
        map = new SourceMap(JSON.parse(payload));
      }
    } catch {
      map = null;
    }
    this.maps.set(url, map);
    return map;
  }
}

/** A short name of a source path for printing: from `packages/`, `examples/`, or the package in node_modules. */
function shortName(source: string): string {
  const modules = source.lastIndexOf('node_modules/');
  if (modules !== -1) return source.slice(modules + 'node_modules/'.length);
  const match = /(?:^|\/)((?:packages|examples|bench)\/.*)$/.exec(source);
  if (match?.[1] !== undefined) return match[1];
  const src = /(?:^|\/)(src\/.*)$/.exec(source);
  return src?.[1] ?? source;
}

export interface Summary {
  readonly file: string;
  /** Wall time the profile covers, ms. */
  readonly wallMs: number;
  /** Time with nothing to run, ms. */
  readonly idleMs: number;
  /** Self time by category, ms. */
  readonly ms: Record<Category, number>;
  /** The functions with the most self time: category, ms, `name source:line`. */
  readonly top: readonly { readonly category: Category; readonly ms: number; readonly frame: string }[];
}

export function summarize(file: string, topCount = 25): Summary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const locator = new Locator();
  const nodes = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    nodes.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }

  // Self time per node: a sample lasts until the next one (Chrome DevTools' convention).
  const self = new Map<number, number>();
  let at = profile.startTime;
  const stamps: number[] = [];
  for (const delta of profile.timeDeltas) {
    at += delta;
    stamps.push(at);
  }
  for (let i = 0; i < profile.samples.length; i++) {
    const next = i + 1 < stamps.length ? (stamps[i + 1] as number) : profile.endTime;
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, next - (stamps[i] as number)));
  }

  const locations = new Map<number, Location>();
  const locationOf = (id: number): Location => {
    let location = locations.get(id);
    if (location === undefined) {
      location = locator.locate((nodes.get(id) as ProfileNode).callFrame);
      locations.set(id, location);
    }
    return location;
  };

  const categories = new Map<number, Category | 'idle'>();
  const ownCategory = (id: number): Category | 'idle' | undefined => {
    const { functionName, url, lineNumber } = (nodes.get(id) as ProfileNode).callFrame;
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(program)') return 'other';
    if (url.startsWith('node:internal/modules/') || url.startsWith('node:internal/main/')) return 'startup';
    // The `add` that `metrics()` generates with `new Function` has no URL.
    if (url === '' && lineNumber >= 0 && functionName === 'add') return 'fold';
    if (url === '' && functionName === 'parse') return 'JSON.parse';
    const { source } = locationOf(id);
    if (functionName === 'parseTicket' && /domain\/validate\.ts$/.test(source)) return 'JSON.parse';
    for (const [category, pattern] of BY_SOURCE) if (pattern.test(source)) return category;
    return undefined;
  };
  const categoryOf = (id: number): Category | 'idle' => {
    const known = categories.get(id);
    if (known !== undefined) return known;
    // Module loading owns everything beneath it, whatever the frame.
    let category: Category | 'idle' | undefined;
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      if (ownCategory(up) === 'startup') {
        category = 'startup';
        break;
      }
    }
    if (category === undefined) {
      category = ownCategory(id);
      // The decode step `(ticket) => enrich(ticket)` of ticketDecoder, called by composeSteps.
      if (category === 'fold' && /ticket-metrics\.ts$/.test(locationOf(id).source)) {
        const caller = parent.get(id);
        if (caller !== undefined && /core\/src\/steps\.ts$/.test(locationOf(caller).source))
          category = 'enrich';
      }
    }
    if (category === undefined) {
      const caller = parent.get(id);
      category = caller === undefined ? 'other' : categoryOf(caller);
      if (category === 'other' && underStreams(id)) category = 'read';
    }
    categories.set(id, category);
    return category;
  };
  const underStreams = (id: number): boolean => {
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up))
      if (STREAMS.test((nodes.get(up) as ProfileNode).callFrame.url)) return true;
    return false;
  };

  const ms = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  let idleMs = 0;
  const byFrame = new Map<string, { category: Category; ms: number }>();
  for (const [id, micros] of self) {
    const category = categoryOf(id);
    if (category === 'idle') {
      idleMs += micros / 1000;
      continue;
    }
    ms[category] += micros / 1000;
    const { functionName } = (nodes.get(id) as ProfileNode).callFrame;
    const location = locationOf(id);
    const where =
      location.source !== ''
        ? `${shortName(location.source)}:${location.line}`
        : location.line > 0
          ? '(generated by new Function)'
          : '(native)';
    const frame = `${functionName || '(anonymous)'} ${where}`;
    const entry = byFrame.get(frame) ?? { category, ms: 0 };
    entry.ms += micros / 1000;
    byFrame.set(frame, entry);
  }
  const top = [...byFrame.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, topCount)
    .map(([frame, entry]) => ({ category: entry.category, ms: entry.ms, frame }));
  return { file, wallMs: (profile.endTime - profile.startTime) / 1000, idleMs, ms, top };
}

function print(summary: Summary, tickets: number): void {
  const cpu = CATEGORIES.reduce((sum, c) => sum + summary.ms[c], 0);
  const processing = cpu - summary.ms.startup;
  console.log(`\n${summary.file}`);
  console.log(
    `wall ${summary.wallMs.toFixed(0)} ms, busy ${cpu.toFixed(0)} ms (of which start-up ${summary.ms.startup.toFixed(0)} ms), idle ${summary.idleMs.toFixed(0)} ms; ${tickets.toLocaleString('en')} tickets`,
  );
  console.log('category        ms   µs/ticket   share of busy   share without start-up');
  for (const c of CATEGORIES) {
    const t = summary.ms[c];
    const perTicket = (t * 1000) / tickets;
    console.log(
      `${c.padEnd(10)} ${t.toFixed(0).padStart(7)}   ${perTicket.toFixed(3).padStart(9)}   ${((t / cpu) * 100).toFixed(1).padStart(11)} %   ${c === 'startup' ? '' : `${((t / processing) * 100).toFixed(1).padStart(8)} %`}`,
    );
  }
  console.log(
    `${'total'.padEnd(10)} ${cpu.toFixed(0).padStart(7)}   ${((cpu * 1000) / tickets).toFixed(3).padStart(9)}   (without start-up: ${processing.toFixed(0)} ms, ${((processing * 1000) / tickets).toFixed(3)} µs/ticket)`,
  );
  console.log('\nfunctions with the most self time:');
  for (const { category, ms, frame } of summary.top)
    console.log(`${ms.toFixed(1).padStart(8)} ms  ${category.padEnd(10)} ${frame}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      tickets: { type: 'string', default: '1000000' },
      top: { type: 'string', default: '25' },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length === 0) throw new Error('usage: summarize.ts [--tickets N] FILE.cpuprofile...');
  const summaries = positionals.map((file) => summarize(file, Number(values.top)));
  if (values.json) console.log(JSON.stringify(summaries));
  else {
    for (const summary of summaries) print(summary, Number(values.tickets));
    if (summaries.length > 1) {
      const processing = (s: Summary) => CATEGORIES.reduce((sum, c) => sum + s.ms[c], 0) - s.ms.startup;
      const best = summaries.reduce((a, b) => (processing(b) < processing(a) ? b : a));
      console.log(
        `\nbest of ${summaries.length} (least sampled time outside start-up): ${best.file}, ${processing(best).toFixed(0)} ms`,
      );
    }
  }
}
