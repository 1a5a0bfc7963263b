/**
 * Synthetic support tickets for the producer, the embedded pipeline, tests and benchmarks.
 *
 * Output is deterministic for a seed (and a fixed `now`). Two models date the tickets (`created_at`):
 * by default, uniformly over the 48 hours before `now()` (a file of tickets spread over many hours, as
 * `generate` and `produce` write); with {@link GenerateOptions.arrivals}, the way a live ticket system
 * delivers them (see {@link ArrivalOptions}: mostly seconds old, some minutes late, a few hours late), as
 * the embedded pipeline (`run`) makes them. Faker supplies the text: a pool of request sentences is
 * drawn from a private, seeded Faker instance when the generator starts, and each ticket picks from it.
 * Everything drawn per ticket (identifiers, times, weights) comes from a small seeded pseudo-random
 * generator, because Faker's own calls cost up to microseconds each (`faker.string.uuid()` alone takes
 * a few), which would cap generation far below the rate the benchmarks need. Lines are serialized by
 * hand from pre-serialized parts rather than with `JSON.stringify`, for the same reason.
 *
 * @module
 */
import { base, en, Faker } from '@faker-js/faker';
import { PRIORITIES, REQUEST_TYPES } from './ticket';
import { utcMinute } from './utc';

/** Options of {@link generateTickets}. */
export interface GenerateOptions {
  /** Seed of the output; the same seed (and `now`) gives the same tickets. Default 1. */
  readonly seed?: number;
  /**
   * Fraction of records, from 0 to 1, that are deliberately invalid (not JSON, not an object, a missing
   * field, an unknown enumeration value, an impossible or offset-less date, a client_id of 0, ...).
   * Default 0.
   */
  readonly badFraction?: number;
  /** The clock `created_at` values are relative to, in epoch milliseconds; read once per ticket. */
  readonly now?: () => number;
  /**
   * How far back from `now()` a ticket's `created_at` may lie, in milliseconds: `created_at` is drawn
   * uniformly from that span. Default 48 hours. Not used with {@link GenerateOptions.arrivals}.
   */
  readonly createdAtSpreadMs?: number;
  /**
   * Dates tickets as a live stream delivers them instead of spreading them over `createdAtSpreadMs`:
   * most a few seconds before `now()`, some minutes late, a few hours late (see {@link ArrivalOptions}).
   * Default: off, the uniform spread.
   */
  readonly arrivals?: ArrivalOptions;
  /** How many distinct request sentences to draw from Faker up front. Default 256. */
  readonly sentencePoolSize?: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DEFAULT_SPREAD_MS = 48 * HOUR;

/** Default share of tickets that arrive minutes late (see {@link ArrivalOptions}). */
export const DEFAULT_LATE_FRACTION = 0.05;
/** Default share of tickets that arrive hours late (see {@link ArrivalOptions}). */
export const DEFAULT_VERY_LATE_FRACTION = 0.005;

/**
 * When tickets are created relative to when they reach the pipeline: the arrival model of the embedded
 * pipeline (`run`). Each ticket's `created_at` is `now()` minus a delay drawn independently per ticket:
 *
 * | share | arrival | delay before `now()` |
 * | --- | --- | --- |
 * | the rest (94.5 % by default) | on time | exponential, mean 3 s (median about 2 s, 95 % under 9 s), at most 1 min |
 * | `lateFraction` (5 % by default) | minutes late | uniform from 1 to 30 min |
 * | `veryLateFraction` (0.5 % by default) | hours late | uniform from 1 to 6 h |
 *
 * With event-time rollups and the default allowed lateness of 10 minutes, the on-time tickets and most
 * minutes-late ones land in their hour's rollup, minutes-late tickets created near the end of an hour and
 * arriving after that hour closed count as late (about one in nine of them), and hours-late tickets
 * always count as late. The first micro-batch has nothing to be late against: its hours-late tickets
 * open past hours, which close as soon as that batch is written.
 */
export interface ArrivalOptions {
  /** Share of tickets, from 0 to 1, created 1 to 30 minutes before they arrive. Default 0.05. */
  readonly lateFraction?: number;
  /** Share of tickets, from 0 to 1, created 1 to 6 hours before they arrive. Default 0.005. */
  readonly veryLateFraction?: number;
}

const ON_TIME_MEAN_MS = 3 * SECOND;
const ON_TIME_MAX_MS = MINUTE;
const LATE_MIN_MS = MINUTE;
const LATE_MAX_MS = 30 * MINUTE;
const VERY_LATE_MIN_MS = HOUR;
const VERY_LATE_MAX_MS = 6 * HOUR;

/**
 * Yields tickets forever, one JSON text (a Kafka message value or a JSON Lines line, without the newline)
 * per step; the caller decides how many to take.
 *
 * Valid tickets have a UUID `ticket_id`, a `client_id` that is mostly an integer from 1 to 100000 and
 * sometimes a string like `C-12345`, a `created_at` within `createdAtSpreadMs` before `now()` (or as
 * {@link GenerateOptions.arrivals} says) written with assorted offsets (`Z`, `+02:00`, `-05:30`, ...)
 * and precisions, a sentence as `request` (some with non-ASCII text), and `request_type` and `priority`
 * drawn with realistic weights, a few of them in odd but valid spellings (`' High'`, `'BILLING'`).
 *
 * @throws RangeError when `badFraction` is outside 0..1, `createdAtSpreadMs` is negative,
 *   `sentencePoolSize` is below 1, or an arrival fraction is outside 0..1 or both add up to more than 1.
 *
 * @example
 * ```ts
 * let count = 0;
 * for (const line of generateTickets({ seed: 7 })) {
 *   if (count++ === 1000) break;
 *   process.stdout.write(`${line}\n`);
 * }
 * ```
 */
export function* generateTickets(options: GenerateOptions = {}): Generator<string, never, undefined> {
  const seed = options.seed ?? 1;
  const badFraction = options.badFraction ?? 0;
  const now = options.now ?? Date.now;
  const spreadMs = options.createdAtSpreadMs ?? DEFAULT_SPREAD_MS;
  const poolSize = options.sentencePoolSize ?? 256;
  if (!(badFraction >= 0 && badFraction <= 1))
    throw new RangeError(`badFraction must be within 0..1, got ${badFraction}`);
  if (!(spreadMs >= 0)) throw new RangeError(`createdAtSpreadMs must be >= 0, got ${spreadMs}`);
  if (!(Number.isInteger(poolSize) && poolSize >= 1)) {
    throw new RangeError(`sentencePoolSize must be an integer >= 1, got ${poolSize}`);
  }
  const createdAt = options.arrivals ? arrivalClock(options.arrivals, now) : spreadClock(spreadMs, now);

  const faker = new Faker({ locale: [en, base] });
  faker.seed(seed);
  const sentences = sentencePool(faker, poolSize);
  const random = createRandom(faker.number.int({ min: 0, max: 0xffffffff }));

  const sentencesJson = sentences.map((sentence) => JSON.stringify(sentence));

  for (;;) {
    const requestIndex = random.below(sentences.length);
    const ticket = validTicket(random, sentences[requestIndex]!, createdAt);
    yield badFraction > 0 && random.next() < badFraction
      ? spoil(ticket, random)
      : serialize(ticket, sentencesJson[requestIndex]!);
  }
}

/** Draws a ticket's `created_at`, in epoch milliseconds, reading the clock once. */
type CreatedAt = (random: Random) => number;

/** `created_at` uniformly within `spreadMs` before `now()`. */
function spreadClock(spreadMs: number, now: () => number): CreatedAt {
  return (random) => Math.floor(now() - random.next() * spreadMs);
}

/** `created_at` as {@link ArrivalOptions} describes; two draws per ticket, whatever its kind. */
function arrivalClock(arrivals: ArrivalOptions, now: () => number): CreatedAt {
  const late = arrivals.lateFraction ?? DEFAULT_LATE_FRACTION;
  const veryLate = arrivals.veryLateFraction ?? DEFAULT_VERY_LATE_FRACTION;
  if (!(late >= 0 && late <= 1)) throw new RangeError(`lateFraction must be within 0..1, got ${late}`);
  if (!(veryLate >= 0 && veryLate <= 1)) {
    throw new RangeError(`veryLateFraction must be within 0..1, got ${veryLate}`);
  }
  if (late + veryLate > 1) {
    throw new RangeError(
      `lateFraction and veryLateFraction must add up to at most 1, got ${late} and ${veryLate}`,
    );
  }
  return (random) => {
    const kind = random.next();
    const u = random.next();
    let delay: number;
    if (kind < veryLate) delay = VERY_LATE_MIN_MS + u * (VERY_LATE_MAX_MS - VERY_LATE_MIN_MS);
    else if (kind < veryLate + late) delay = LATE_MIN_MS + u * (LATE_MAX_MS - LATE_MIN_MS);
    else delay = Math.min(-Math.log(1 - u) * ON_TIME_MEAN_MS, ON_TIME_MAX_MS);
    return Math.floor(now() - delay);
  };
}

// ---------------------------------------------------------------------------------------------------
// Random numbers

/** A seeded pseudo-random source (sfc32): fast, and the same sequence for the same seed. */
interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An unsigned 32-bit integer. */
  uint32(): number;
  /** An integer in [0, bound). */
  below(bound: number): number;
}

function createRandom(seed: number): Random {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const uint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 16; i++) uint32();
  return {
    uint32,
    next: () => uint32() / 4_294_967_296,
    below: (bound) => Math.floor((uint32() / 4_294_967_296) * bound),
  };
}

/** Picks from `values` with the given cumulative weights (the last one is the total). */
function weighted<T>(random: Random, values: readonly T[], cumulative: readonly number[]): T {
  const total = cumulative[cumulative.length - 1] ?? 0;
  const target = random.next() * total;
  for (let i = 0; i < values.length; i++) {
    if (target < (cumulative[i] ?? 0)) return values[i] as T;
  }
  return values[values.length - 1] as T;
}

function cumulate(weights: readonly number[]): number[] {
  let sum = 0;
  return weights.map((w) => (sum += w));
}

// ---------------------------------------------------------------------------------------------------
// Valid tickets

/** Relative frequencies of {@link REQUEST_TYPES} and {@link PRIORITIES}, in the same order. */
const TYPE_WEIGHTS = cumulate([35, 20, 15, 7, 10, 13]);
const PRIORITY_WEIGHTS = cumulate([30, 40, 22, 8]);

/** Valid but unusual spellings, used for about 3 % of the enumeration values. */
const ODD_TYPES: readonly string[] = [
  'BILLING',
  ' Technical',
  'Feature_Request',
  'security ',
  'Account',
  ' OTHER ',
];
const ODD_PRIORITIES: readonly string[] = [' High', 'LOW', 'Medium ', ' CRITICAL ', 'high', 'Critical'];

/** Offsets in minutes east of UTC; 0 is written as `Z`. Weighted towards UTC. */
const OFFSETS: readonly number[] = [0, 0, 0, 0, 60, 120, -300, -240, 330, -330, 540, 345, -180, 600, -600, 0];

/** Non-ASCII requests mixed into the sentence pool. */
const UNICODE_REQUESTS: readonly string[] = [
  'No puedo iniciar sesión desde el móvil 📱',
  'Die Rechnung für März ist doppelt – bitte prüfen',
  'ログインできません。パスワードをリセットしてください',
  'Оплата не прошла, деньги списаны',
  'Le paiement a échoué avec le code « E42 »',
  '客户端在导出报表时崩溃 💥',
  'Two-factor codes arrive late ⏱️ — sometimes after they expire',
  '',
];

function sentencePool(faker: Faker, size: number): string[] {
  const pool: string[] = [];
  for (let i = 0; i < size; i++) {
    const roll = i % 10;
    if (roll === 9) pool.push(faker.helpers.arrayElement(UNICODE_REQUESTS));
    else if (roll % 3 === 0) pool.push(faker.hacker.phrase());
    else if (roll % 3 === 1) pool.push(`${faker.company.catchPhrase()} is not working as expected.`);
    else pool.push(faker.lorem.sentence({ min: 4, max: 14 }));
  }
  return pool;
}

interface RawTicket {
  ticket_id: string;
  client_id: string | number;
  created_at: string;
  request: string;
  request_type: string;
  priority: string;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A version 4 UUID from the seeded source. */
function uuid(random: Random): string {
  const a = random.uint32();
  const b = random.uint32();
  const c = random.uint32();
  const d = random.uint32();
  return (
    `${HEX[a >>> 24]}${HEX[(a >>> 16) & 0xff]}${HEX[(a >>> 8) & 0xff]}${HEX[a & 0xff]}-` +
    `${HEX[b >>> 24]}${HEX[(b >>> 16) & 0xff]}-4${HEX[(b >>> 8) & 0xff]!.slice(1)}${HEX[b & 0xff]}-` +
    `${HEX[((c >>> 24) & 0x3f) | 0x80]}${HEX[(c >>> 16) & 0xff]}-` +
    `${HEX[(c >>> 8) & 0xff]}${HEX[c & 0xff]}${HEX[d >>> 24]}${HEX[(d >>> 16) & 0xff]}` +
    `${HEX[(d >>> 8) & 0xff]}${HEX[d & 0xff]}`
  );
}

function validTicket(random: Random, request: string, createdAt: CreatedAt): RawTicket {
  const clientRoll = random.next();
  const client_id: string | number =
    clientRoll < 0.85 ? 1 + random.below(100_000) : `C-${String(random.below(100_000)).padStart(5, '0')}`;
  const request_type =
    random.next() < 0.03
      ? ODD_TYPES[random.below(ODD_TYPES.length)]!
      : weighted(random, REQUEST_TYPES, TYPE_WEIGHTS);
  const priority =
    random.next() < 0.03
      ? ODD_PRIORITIES[random.below(ODD_PRIORITIES.length)]!
      : weighted(random, PRIORITIES, PRIORITY_WEIGHTS);
  return {
    ticket_id: uuid(random),
    client_id,
    created_at: formatCreatedAt(createdAt(random), random),
    request,
    request_type,
    priority,
  };
}

/**
 * The same text as `JSON.stringify(ticket)`, several times faster: every field but the request is known
 * to need no escaping (UUIDs, `C-` numbers, timestamps, enumeration spellings), and the request comes
 * already serialized from the pool.
 */
function serialize(ticket: RawTicket, requestJson: string): string {
  const clientId = ticket.client_id;
  const clientJson = typeof clientId === 'number' ? String(clientId) : `"${clientId}"`;
  return (
    `{"ticket_id":"${ticket.ticket_id}","client_id":${clientJson},"created_at":"${ticket.created_at}",` +
    `"request":${requestJson},"request_type":"${ticket.request_type}","priority":"${ticket.priority}"}`
  );
}

/** `±HH:MM` for each entry of {@link OFFSETS}, or `Z` for UTC. */
const ZONES: readonly string[] = OFFSETS.map((offset) => {
  if (offset === 0) return 'Z';
  const abs = Math.abs(offset);
  const hours = String(Math.floor(abs / 60)).padStart(2, '0');
  return `${offset < 0 ? '-' : '+'}${hours}:${String(abs % 60).padStart(2, '0')}`;
});
const PAD2: readonly string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const PAD3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * An RFC 3339 text for the instant, with a random offset and precision (seconds, milliseconds or
 * microseconds); about 1 % use the lowercase `t` and `z` that RFC 3339 also allows.
 */
function formatCreatedAt(utcMs: number, random: Random): string {
  const zoneIndex = random.below(OFFSETS.length);
  const localMs = utcMs + OFFSETS[zoneIndex]! * 60_000;
  const minute = utcMinute(localMs); // the local wall-clock minute, formatted as if it were UTC
  const msOfMinute = localMs - minute.minute * 60_000;
  const second = (msOfMinute / 1000) | 0;
  const millis = PAD3[msOfMinute - second * 1000]!;
  const precision = random.below(4);
  let text = minute.prefix + PAD2[second]!;
  if (precision === 1 || precision === 2) text += `.${millis}`;
  else if (precision === 3) text += `.${millis}${PAD3[random.below(1000)]!}`;
  let zone = ZONES[zoneIndex]!;
  if (random.next() < 0.01) {
    text = `${text.slice(0, 10)}t${text.slice(11)}`;
    if (zone === 'Z') zone = 'z';
  }
  return text + zone;
}

// ---------------------------------------------------------------------------------------------------
// Invalid records

/** Ways to spoil a record; every one of them must be rejected by the validator. */
const SPOILERS: readonly ((ticket: RawTicket, random: Random) => string)[] = [
  // Not JSON: a cut-off record, and plain text.
  (t) => JSON.stringify(t).slice(0, 40),
  () => 'ticket service heartbeat',
  // Not an object.
  (t) => JSON.stringify([t]),
  () => 'null',
  () => '42',
  // A missing field.
  (t, r) => {
    const copy: Partial<RawTicket> = { ...t };
    const field = FIELDS[r.below(FIELDS.length)]!;
    delete copy[field];
    return JSON.stringify(copy);
  },
  // Unknown enumeration values.
  (t) => JSON.stringify({ ...t, priority: 'urgent' }),
  (t) => JSON.stringify({ ...t, request_type: 'sales' }),
  // Impossible or incomplete dates.
  (t) => JSON.stringify({ ...t, created_at: '2026-02-30T10:00:00Z' }),
  (t) => JSON.stringify({ ...t, created_at: t.created_at.slice(0, 19) }),
  (t) => JSON.stringify({ ...t, created_at: t.created_at.slice(0, 10) }),
  (t) => JSON.stringify({ ...t, created_at: `${t.created_at.slice(0, 11)}24${t.created_at.slice(13)}` }),
  // Wrong types and values.
  (t) => JSON.stringify({ ...t, client_id: 0 }),
  (t) => JSON.stringify({ ...t, client_id: 12.5 }),
  (t) => JSON.stringify({ ...t, ticket_id: '' }),
  (t) => JSON.stringify({ ...t, request: null }),
];

const FIELDS: readonly (keyof RawTicket)[] = [
  'ticket_id',
  'client_id',
  'created_at',
  'request',
  'request_type',
  'priority',
];

function spoil(ticket: RawTicket, random: Random): string {
  return SPOILERS[random.below(SPOILERS.length)]!(ticket, random);
}
