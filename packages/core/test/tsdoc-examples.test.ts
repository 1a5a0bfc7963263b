/**
 * Every `@example` in the TSDoc of every package (packages/*\/src), and every ```ts block of the
 * README files, is type-checked against the sources and, unless it needs a service listed below, run
 * in a temporary folder, where the results it states in comments (`// 30000`) are checked: a wrong
 * example fails here. See support/tsdoc-examples.ts for how an example becomes a module.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ExampleModule, exampleModule, extractExamples, repoRoot } from './support/tsdoc-examples';

/** Examples that need a broker or S3: type-checked only. Keyed by example id, with the reason. */
const typeCheckOnly: Record<string, string> = {
  'packages/s3-store/src/s3-blob-store.ts#s3BlobStore': 'needs S3',
  'packages/kafka-source/src/producer.ts#createKafkaProducer': 'needs a Kafka broker',
  'packages/kafka-source/src/kafka-source.ts#kafkaSource': 'needs a Redpanda Cloud password',
  'packages/kafka-source/src/partials.ts#kafkaPartials': 'needs a Kafka broker with transactions',
  'README.md#Compose a pipeline in code': 'reads orders.jsonl until stopped',
  'README.md#Live dashboard': 'serves HTTP on port 8080 while it reads orders.jsonl',
  'packages/kafka-source/README.md#@ticketflow/kafka-source': 'needs a Kafka broker',
  'packages/ops/src/operations.ts#serveOperations': 'serves HTTP on port 8080 while the pipeline runs',
  'packages/ops/README.md#@ticketflow/ops': 'serves HTTP on port 8080 while the pipeline runs',
};

const modules = extractExamples().map(exampleModule);
const outDir = join(repoRoot, '.tmp');
mkdirSync(outDir, { recursive: true });
const dir = mkdtempSync(join(outDir, 'tsdoc-examples-'));
const fileOf = (m: ExampleModule, suffix = '') =>
  join(dir, `${m.example.id.replace(/^packages\//, '').replace(/[^\w]+/g, '_')}${suffix}.ts`);
for (const m of modules) {
  writeFileSync(fileOf(m), m.text);
  writeFileSync(fileOf(m, '.run'), m.runText);
}

let program: ts.Program;

beforeAll(() => {
  const base = ts.readConfigFile(join(repoRoot, 'tsconfig.base.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(base.config, ts.sys, repoRoot);
  program = ts.createProgram({
    rootNames: modules.map((m) => fileOf(m)),
    options: { ...options, noEmit: true },
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The example's type errors, each at its line in the documented source file. */
function typeErrors(m: ExampleModule): string[] {
  const sf = program.getSourceFile(fileOf(m));
  if (sf === undefined) throw new Error(`${fileOf(m)} is not in the program`);
  return ts.getPreEmitDiagnostics(program, sf).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.start === undefined) return `${m.example.file}: TS${d.code} ${text}`;
    const line = sf.getLineAndCharacterOfPosition(d.start).line - m.header;
    const where = line < 0 ? '(generated import)' : String(m.example.line + line);
    return `${m.example.file}:${where}: TS${d.code} ${text}`;
  });
}

it('finds the examples of every package', () => {
  const files = new Set(
    modules.map(({ example: { file } }) => (file === 'README.md' ? file : file.split('/')[1])),
  );
  expect([...files].sort()).toEqual(['README.md', 'core', 'json-sink', 'kafka-source', 'ops', 's3-store']);
  const ids = new Set(modules.map((m) => m.example.id));
  for (const id of Object.keys(typeCheckOnly)) expect(ids, `stale typeCheckOnly entry ${id}`).toContain(id);
});

describe.each(modules.map((m) => [m.example.id, m] as const))('%s', (_id, m) => {
  it('type-checks', () => {
    expect(typeErrors(m)).toEqual([]);
  });

  const reason = typeCheckOnly[m.example.id];
  const runs =
    m.claims > 0 ? `runs and gives the ${m.claims === 1 ? 'result' : 'results'} it states` : 'runs';
  it(reason ? `is not run: ${reason}` : runs, async () => {
    if (reason) return;
    const cwd = process.cwd();
    const scratch = mkdtempSync(join(dir, 'cwd-'));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    process.chdir(scratch);
    try {
      await import(/* @vite-ignore */ fileOf(m, '.run'));
    } finally {
      process.chdir(cwd);
      log.mockRestore();
      warn.mockRestore();
    }
    // What was type-checked is the example as written.
    expect(readFileSync(fileOf(m), 'utf8')).toContain(m.example.code);
  });
});
