import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS, readSettings } from '../src/config';
import { DEFAULT_LATE_FRACTION, DEFAULT_VERY_LATE_FRACTION } from '../src/domain/generator';
import type { Shutdown } from '../src/shutdown';

// main() runs the real command line up to the processor, which records what it was given.
const runProcessor = vi.hoisted(() => vi.fn(async (_settings: unknown, _parts: unknown) => {}));
vi.mock('../src/commands/processor', () => ({ runProcessor }));
const generatorSource = vi.hoisted(() => vi.fn());
vi.mock('../src/sources/generator-source', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/sources/generator-source')>();
  generatorSource.mockImplementation(original.generatorSource);
  return { generatorSource };
});

const MINUTE = 60_000;
const processArgs = ['--input', 'tickets.jsonl'];

describe('--rollups, --allowed-lateness and --idle-timeout', () => {
  it('default to no rollups, 10 minutes of allowed lateness and a 1 minute idle timeout', () => {
    for (const settings of [readSettings('process', processArgs, {}), readSettings('run', [], {})]) {
      expect(settings).toMatchObject({ rollups: [], allowedLateness: 10 * MINUTE, idleTimeout: MINUTE });
    }
  });

  it('are one group of settings that process and run share, and generate and produce do not take', () => {
    const group = ['rollups', 'allowed-lateness', 'idle-timeout'] as const;
    for (const flag of group) {
      expect(COMMANDS.run.settings[flag]).toBe(COMMANDS.process.settings[flag]);
      expect(Object.keys(COMMANDS.generate.settings)).not.toContain(flag);
      expect(Object.keys(COMMANDS.produce.settings)).not.toContain(flag);
    }
    expect(() => readSettings('generate', ['--count', '1', '--rollups', 'hour'])).toThrow(
      "unknown option '--rollups'",
    );
  });

  it.each([
    ['hour,day', ['hour', 'day']],
    ['day,hour', ['hour', 'day']],
    ['hour', ['hour']],
    ['day', ['day']],
    ['day,day,hour,day', ['hour', 'day']],
    [' hour , day ', ['hour', 'day']],
    ['none', []],
    ['', []],
  ])('reads --rollups %j as %j: deduplicated, hour before day', (text, rollups) => {
    expect(readSettings('process', [...processArgs, '--rollups', text], {}).rollups).toEqual(rollups);
    expect(readSettings('run', ['--rollups', text], {}).rollups).toEqual(rollups);
  });

  it('reads the environment, and a flag wins over it', () => {
    const env = {
      TICKETFLOW_ROLLUPS: 'day',
      TICKETFLOW_ALLOWED_LATENESS: '30s',
      TICKETFLOW_IDLE_TIMEOUT: '5m',
    };
    expect(readSettings('run', [], env)).toMatchObject({
      rollups: ['day'],
      allowedLateness: 30_000,
      idleTimeout: 5 * MINUTE,
    });
    expect(
      readSettings(
        'process',
        [...processArgs, '--rollups', 'hour', '--allowed-lateness', '1h', '--idle-timeout', '90s'],
        env,
      ),
    ).toMatchObject({ rollups: ['hour'], allowedLateness: 60 * MINUTE, idleTimeout: 90_000 });
  });

  it.each([
    ['0', 0],
    ['0s', 0],
    ['0.0m', 0],
    ['500ms', 500],
    ['2.5m', 150_000],
    ['596h', 596 * 60 * MINUTE],
  ])('takes --allowed-lateness %j as %d ms (0: no lateness allowed)', (text, ms) => {
    expect(readSettings('process', [...processArgs, '--allowed-lateness', text], {}).allowedLateness).toBe(
      ms,
    );
  });

  it.each([
    [
      ['--rollups', 'week'],
      {},
      '--rollups must be none, or a comma-separated list of hour and day (hour,day), got "week"',
    ],
    [
      ['--rollups', 'hour,'],
      {},
      '--rollups must be none, or a comma-separated list of hour and day (hour,day), got "hour,"',
    ],
    [
      ['--rollups', 'Hour'],
      {},
      '--rollups must be none, or a comma-separated list of hour and day (hour,day), got "Hour"',
    ],
    [
      ['--rollups', 'none,day'],
      {},
      '--rollups must be none, or a comma-separated list of hour and day (hour,day), got "none,day"',
    ],
    [
      [],
      { TICKETFLOW_ROLLUPS: 'hourly' },
      'TICKETFLOW_ROLLUPS must be none, or a comma-separated list of hour and day (hour,day), got "hourly"',
    ],
    [
      ['--allowed-lateness', 'late'],
      {},
      '--allowed-lateness must be 0 or a positive duration such as 500ms, 30s, 5m or 1h, got "late"',
    ],
    [
      ['--allowed-lateness', '-5m'],
      {},
      '--allowed-lateness must be 0 or a positive duration such as 500ms, 30s, 5m or 1h, got "-5m"',
    ],
    [
      ['--allowed-lateness', '600h'],
      {},
      '--allowed-lateness must be at most 596h (2147483647 ms, the longest a timer can wait), got "600h"',
    ],
    [
      [],
      { TICKETFLOW_ALLOWED_LATENESS: '10 minutes' },
      'TICKETFLOW_ALLOWED_LATENESS must be 0 or a positive duration such as 500ms, 30s, 5m or 1h, got "10 minutes"',
    ],
    [
      ['--idle-timeout', '0'],
      {},
      '--idle-timeout must be a positive duration such as 500ms, 30s, 5m or 1h, got "0"',
    ],
    [
      [],
      { TICKETFLOW_IDLE_TIMEOUT: 'never' },
      'TICKETFLOW_IDLE_TIMEOUT must be a positive duration such as 500ms, 30s, 5m or 1h, got "never"',
    ],
  ] as const)('refuses %j %j with one line naming the flag or variable', (args, env, message) => {
    for (const [command, base] of [
      ['process', processArgs],
      ['run', []],
    ] as const) {
      let error: unknown;
      try {
        readSettings(command, [...base, ...args], env);
      } catch (caught) {
        error = caught;
      }
      expect((error as Error | undefined)?.message, command).toBe(message);
    }
  });
});

describe('--late-fraction and --very-late-fraction (run)', () => {
  it("default to the generator's arrival model", () => {
    expect(readSettings('run', [], {})).toMatchObject({
      lateFraction: DEFAULT_LATE_FRACTION,
      veryLateFraction: DEFAULT_VERY_LATE_FRACTION,
    });
    expect([DEFAULT_LATE_FRACTION, DEFAULT_VERY_LATE_FRACTION]).toEqual([0.05, 0.005]);
  });

  it('read flags and variables, 0 and 1 included', () => {
    expect(
      readSettings('run', ['--late-fraction', '0.2'], { TICKETFLOW_VERY_LATE_FRACTION: '0.01' }),
    ).toMatchObject({ lateFraction: 0.2, veryLateFraction: 0.01 });
    expect(readSettings('run', ['--late-fraction', '1', '--very-late-fraction', '0'], {})).toMatchObject({
      lateFraction: 1,
      veryLateFraction: 0,
    });
    expect(
      readSettings('run', [], { TICKETFLOW_LATE_FRACTION: '0', TICKETFLOW_VERY_LATE_FRACTION: '0' }),
    ).toMatchObject({ lateFraction: 0, veryLateFraction: 0 });
  });

  it.each([
    [['--late-fraction', '1.5'], {}, '--late-fraction must be a fraction between 0 and 1, got "1.5"'],
    [
      [],
      { TICKETFLOW_VERY_LATE_FRACTION: 'some' },
      'TICKETFLOW_VERY_LATE_FRACTION must be a fraction between 0 and 1, got "some"',
    ],
    [
      ['--late-fraction', '0.7', '--very-late-fraction', '0.5'],
      {},
      '--very-late-fraction plus the late fraction (0.7) must be at most 1, got "0.5"',
    ],
    [
      ['--late-fraction', '0.999'],
      {},
      '--very-late-fraction plus the late fraction (0.999) must be at most 1, got "0.005"',
    ],
  ] as const)('refuses %j %j with one line', (args, env, message) => {
    expect(() => readSettings('run', args, env)).toThrow(message);
  });

  it('are flags of run only: generate and produce keep their 48-hour spread', () => {
    for (const command of ['process', 'generate', 'produce'] as const) {
      expect(Object.keys(COMMANDS[command].settings)).not.toContain('late-fraction');
      expect(Object.keys(COMMANDS[command].settings)).not.toContain('very-late-fraction');
    }
  });
});

describe('main hands the settings to the processor', () => {
  let dir: string;
  let input: string;
  const shutdown: Shutdown = {
    signal: new AbortController().signal,
    received: undefined,
    onSecondSignal: () => {},
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ticketflow-rollup-flags-'));
    input = join(dir, 'tickets.jsonl');
    await writeFile(input, '');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    runProcessor.mockClear();
    generatorSource.mockClear();
  });

  it('process: rollups, allowed lateness and idle timeout in ms', async () => {
    const { main } = await import('../src/main');
    const argv = ['process', '--input', input, '--quiet', '--out', join(dir, 'out')];
    const code = await main(
      [...argv, '--rollups', 'day,hour', '--allowed-lateness', '15m', '--idle-timeout', '2m'],
      shutdown,
    );
    expect(code).toBe(0);
    expect(runProcessor).toHaveBeenCalledTimes(1);
    expect(runProcessor.mock.calls[0]?.[0]).toMatchObject({
      rollups: ['hour', 'day'],
      allowedLateness: 15 * MINUTE,
      idleTimeout: 2 * MINUTE,
    });
  });

  it('run: the same settings, and the arrival model to the embedded generator', async () => {
    const { main } = await import('../src/main');
    const argv = ['run', '--out', join(dir, 'run'), '--seed', '3', '--rollups', 'hour,day'];
    expect(await main([...argv, '--very-late-fraction', '0.02'], shutdown)).toBe(0);
    expect(runProcessor.mock.calls[0]?.[0]).toMatchObject({
      rollups: ['hour', 'day'],
      allowedLateness: 10 * MINUTE,
      idleTimeout: MINUTE,
    });
    expect(generatorSource).toHaveBeenCalledWith({
      rate: 200,
      badFraction: 0,
      seed: 3,
      arrivals: { lateFraction: 0.05, veryLateFraction: 0.02 },
    });
  });

  it('without --rollups: an empty list, never undefined', async () => {
    const { main } = await import('../src/main');
    expect(await main(['process', '--input', input, '--quiet', '--out', join(dir, 'o')], shutdown)).toBe(0);
    expect(runProcessor.mock.calls[0]?.[0]).toMatchObject({ rollups: [] });
  });
});
