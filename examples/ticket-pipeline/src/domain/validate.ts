/**
 * Parsing and validation of raw ticket records, as specified by the ticket table of the design:
 * one JSON object per Kafka message value or JSON Lines line.
 *
 * Every failure is returned as a {@link Rejection} whose reason is one line (control characters escaped,
 * at most {@link MAX_REASON_LENGTH} characters) that names the first field found wrong. Fields are checked
 * in the order `ticket_id`, `client_id`, `created_at`, `request`, `request_type`, `priority`.
 *
 * The code is written for throughput (about a million records a second on one thread, of which
 * `JSON.parse` takes most): one pass over the object, no exceptions apart from the one `JSON.parse` may
 * throw, a hand-written `created_at` parser instead of a regular expression or `Date.parse`, and no
 * allocation on the success path other than the returned ticket (and the trimmed, lowercased copy of an
 * enumeration value spelled unusually, such as `' High'`).
 *
 * @module
 */
import { describeValue, type Rejection, reject, type Step } from '@ticketflow/core';
import { PRIORITIES, type Priority, REQUEST_TYPES, type RequestType, type Ticket } from './ticket';

/** The longest reason a rejection from this module carries, in UTF-16 code units. */
export const MAX_REASON_LENGTH = 300;

/** How many characters of an offending value a reason quotes before truncating it. */
const QUOTE_LENGTH = 50;

/** How many characters of the `JSON.parse` error message a reason keeps. */
const JSON_ERROR_LENGTH = 200;

const NOT_AN_OBJECT = 'expected a JSON object';
const TICKET_ID_TYPE = 'field "ticket_id" must be a non-empty string';
const CLIENT_ID_TYPE = 'field "client_id" must be a non-empty string or an integer >= 1';
const CREATED_AT_TYPE = 'field "created_at" must be a string';
const CREATED_AT_FORMAT = 'field "created_at" must be an RFC 3339 date-time with a Z or ±HH:MM offset, got ';
const CREATED_AT_CALENDAR = 'field "created_at" must be a real calendar date and time, got ';
const CREATED_AT_LEAP_SECOND = 'field "created_at" has second 60 (leap seconds are not supported), got ';
const CREATED_AT_RANGE = 'field "created_at" must fall within the years 0000 to 9999 in UTC, got ';
const REQUEST_NOT_STRING = 'field "request" must be a string';
const REQUEST_TYPE_ENUM = `field "request_type" must be one of ${REQUEST_TYPES.join(', ')}, got `;
const PRIORITY_ENUM = `field "priority" must be one of ${PRIORITIES.join(', ')}, got `;

/**
 * Parses one raw record (a Kafka message value or a JSON Lines line) and validates it with
 * {@link validateTicket}.
 *
 * A leading byte order mark is ignored. Text that is not JSON is rejected with
 * `invalid JSON: <the parser's message>`; anything else is judged by {@link validateTicket}.
 *
 * @example
 * ```ts
 * const result = parseTicket(line, { lane: 'input', offset: 0 });
 * if (isRejection(result)) deadLetter(line, result.reason);
 * ```
 */
export const parseTicket: Step<string, Ticket> = (text) => {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    return reject(invalidJsonReason(error));
  }
  return validateTicket(value);
};

/**
 * Validates an already-parsed record against the ticket rules of the design and returns the normalized
 * {@link Ticket}, or a {@link Rejection} naming the first problem found.
 *
 * - `ticket_id`: a string with at least one non-whitespace character (a whitespace-only string counts as
 *   empty); kept as given.
 * - `client_id`: such a string, or an integer from 1 to `Number.MAX_SAFE_INTEGER` (larger integers cannot be
 *   represented exactly and are rejected: send them as strings); kept as given.
 * - `created_at`: an RFC 3339 date-time `YYYY-MM-DDTHH:MM:SS[.fraction]` followed by `Z` or `±HH:MM`
 *   (the `T` and `Z` may be lowercase, as RFC 3339 allows; a space separator is not accepted). It must be
 *   a real calendar instant: no day 30 in February, no hour 24, no leap second 60, offsets up to ±23:59.
 *   Converted to UTC epoch milliseconds; fraction digits beyond milliseconds are truncated.
 * - `request`: any string, including the empty one.
 * - `request_type`, `priority`: strings matched against {@link REQUEST_TYPES} and {@link PRIORITIES}
 *   case-insensitively after trimming; normalized to lowercase.
 *
 * A field whose value is `undefined` (absent from JSON) is reported as `missing field "<name>"`; unknown
 * extra fields are ignored.
 */
export function validateTicket(value: unknown): Ticket | Rejection {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject(NOT_AN_OBJECT);
  const record = value as Record<string, unknown>;

  const ticketId = record.ticket_id;
  if (typeof ticketId !== 'string' || isBlank(ticketId)) {
    return reject(ticketId === undefined ? 'missing field "ticket_id"' : TICKET_ID_TYPE);
  }

  const clientId = record.client_id;
  if (typeof clientId === 'number') {
    if (!Number.isInteger(clientId) || clientId < 1) return reject(CLIENT_ID_TYPE);
    if (clientId > Number.MAX_SAFE_INTEGER) {
      return reject(
        `field "client_id" is an integer above ${Number.MAX_SAFE_INTEGER}, which JSON numbers cannot hold ` +
          `exactly; send it as a string`,
      );
    }
  } else if (typeof clientId !== 'string' || isBlank(clientId)) {
    return reject(clientId === undefined ? 'missing field "client_id"' : CLIENT_ID_TYPE);
  }

  const createdAt = record.created_at;
  if (typeof createdAt !== 'string') {
    return reject(createdAt === undefined ? 'missing field "created_at"' : CREATED_AT_TYPE);
  }
  const createdAtMs = parseRfc3339(createdAt);
  // Every failure code is a non-integer (NaN, ±Infinity, -0.5); every instant is whole milliseconds.
  if (!Number.isInteger(createdAtMs)) return reject(createdAtReason(createdAtMs, createdAt));

  const request = record.request;
  if (typeof request !== 'string') {
    return reject(request === undefined ? 'missing field "request"' : REQUEST_NOT_STRING);
  }

  const rawType = record.request_type;
  const requestType = typeof rawType === 'string' ? lookupRequestType(rawType) : undefined;
  if (requestType === undefined) {
    return reject(
      rawType === undefined ? 'missing field "request_type"' : REQUEST_TYPE_ENUM + describe(rawType),
    );
  }

  const rawPriority = record.priority;
  const priority = typeof rawPriority === 'string' ? lookupPriority(rawPriority) : undefined;
  if (priority === undefined) {
    return reject(
      rawPriority === undefined ? 'missing field "priority"' : PRIORITY_ENUM + describe(rawPriority),
    );
  }

  return {
    ticket_id: ticketId,
    client_id: clientId,
    created_at_ms: createdAtMs,
    request,
    request_type: requestType,
    priority,
  };
}

// ---------------------------------------------------------------------------------------------------
// Enumerations

/**
 * The request type spelled `raw`, or `undefined`. The exact lowercase spelling is matched by a `switch`
 * (cheaper than a `Map` look-up of a fresh string); other spellings are trimmed and lowercased first.
 */
function lookupRequestType(raw: string): RequestType | undefined {
  return exactRequestType(raw) ?? exactRequestType(raw.trim().toLowerCase());
}

function exactRequestType(text: string): RequestType | undefined {
  switch (text) {
    case 'technical':
      return 'technical';
    case 'billing':
      return 'billing';
    case 'account':
      return 'account';
    case 'security':
      return 'security';
    case 'feature_request':
      return 'feature_request';
    case 'other':
      return 'other';
    default:
      return undefined;
  }
}

/** The priority spelled `raw`, or `undefined`; see {@link lookupRequestType}. */
function lookupPriority(raw: string): Priority | undefined {
  return exactPriority(raw) ?? exactPriority(raw.trim().toLowerCase());
}

function exactPriority(text: string): Priority | undefined {
  switch (text) {
    case 'low':
      return 'low';
    case 'medium':
      return 'medium';
    case 'high':
      return 'high';
    case 'critical':
      return 'critical';
    default:
      return undefined;
  }
}

/** True for the empty string and for strings made only of whitespace (as `String.prototype.trim` sees it). */
function isBlank(text: string): boolean {
  if (text.length === 0) return true;
  const first = text.charCodeAt(0);
  // Printable ASCII other than the space cannot be trimmed away, which settles almost every value.
  if (first > 32 && first < 127) return false;
  return text.trim().length === 0;
}

// ---------------------------------------------------------------------------------------------------
// created_at

/** `parseRfc3339` result when the text does not have the RFC 3339 date-time shape. */
const NOT_RFC3339 = Number.NaN;
/** `parseRfc3339` result when the shape is right but a component is out of range (February 30, hour 24). */
const NOT_CALENDAR = Number.POSITIVE_INFINITY;
/** `parseRfc3339` result for second 60. */
const LEAP_SECOND = Number.NEGATIVE_INFINITY;
/**
 * `parseRfc3339` result for an instant outside the UTC years 0000 to 9999, whose day would be written
 * `-000001-12-31` or `+010000-01-01` (an offset can move a valid local year across either end).
 */
const OUT_OF_RANGE = -0.5;

/** 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in epoch milliseconds: the valid UTC instants lie between. */
const MIN_UTC_MS = -62_167_219_200_000;
const END_UTC_MS = 253_402_300_800_000;

const MS_PER_DAY = 86_400_000;

/**
 * Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into UTC epoch milliseconds, or returns one of the
 * non-finite codes above. Character codes are read directly: no regular expression, no substrings, no
 * `Date` (which would roll February 30 over to March 2).
 */
function parseRfc3339(text: string): number {
  const length = text.length;
  if (
    length < 20 ||
    text.charCodeAt(4) !== 45 || // '-'
    text.charCodeAt(7) !== 45 ||
    (text.charCodeAt(10) | 0x20) !== 116 || // 'T' or 't'
    text.charCodeAt(13) !== 58 || // ':'
    text.charCodeAt(16) !== 58
  ) {
    return NOT_RFC3339;
  }
  const century = digits2(text, 0);
  const yearOfCentury = digits2(text, 2);
  const month = digits2(text, 5);
  const day = digits2(text, 8);
  const hour = digits2(text, 11);
  const minute = digits2(text, 14);
  const second = digits2(text, 17);
  // Every one of them is -1 when not two digits, which makes the OR negative.
  if ((century | yearOfCentury | month | day | hour | minute | second) < 0) return NOT_RFC3339;

  let index = 19;
  let millis = 0;
  if (text.charCodeAt(index) === 46) {
    // '.' then at least one digit; the first three digits are milliseconds, the rest are truncated.
    const start = ++index;
    while (index < length) {
      const digit = text.charCodeAt(index) - 48;
      if (digit >>> 0 > 9) break;
      if (index - start < 3) millis = millis * 10 + digit;
      index++;
    }
    const count = index - start;
    if (count === 0) return NOT_RFC3339;
    if (count === 1) millis *= 100;
    else if (count === 2) millis *= 10;
  }

  let offsetMinutes = 0;
  const zone = text.charCodeAt(index);
  if ((zone | 0x20) === 122) {
    // 'Z' or 'z' must end the text.
    if (index + 1 !== length) return NOT_RFC3339;
  } else if (zone === 43 || zone === 45) {
    // '+' or '-' then HH:MM, ending the text.
    if (index + 6 !== length || text.charCodeAt(index + 3) !== 58) return NOT_RFC3339;
    const offsetHour = digits2(text, index + 1);
    const offsetMinute = digits2(text, index + 4);
    if ((offsetHour | offsetMinute) < 0) return NOT_RFC3339;
    if (offsetHour > 23 || offsetMinute > 59) return NOT_CALENDAR;
    offsetMinutes = zone === 45 ? -(offsetHour * 60 + offsetMinute) : offsetHour * 60 + offsetMinute;
  } else {
    return NOT_RFC3339;
  }

  const year = century * 100 + yearOfCentury;
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    (day > 28 && day > daysInMonth(year, month)) ||
    hour > 23 ||
    minute > 59
  ) {
    return NOT_CALENDAR;
  }
  if (second > 59) return second === 60 ? LEAP_SECOND : NOT_CALENDAR;

  const ms =
    daysFromCivil(year, month, day) * MS_PER_DAY +
    (hour * 60 + minute - offsetMinutes) * 60_000 +
    second * 1000 +
    millis;
  return ms >= MIN_UTC_MS && ms < END_UTC_MS ? ms : OUT_OF_RANGE;
}

/** Two decimal digits at `index` as a number, or -1. The callers keep `index + 1` within the text. */
function digits2(text: string, index: number): number {
  const high = text.charCodeAt(index) - 48;
  const low = text.charCodeAt(index + 1) - 48;
  // `>>> 0` turns a negative difference into a large one, so one comparison rejects both sides.
  return high >>> 0 > 9 || low >>> 0 > 9 ? -1 : high * 10 + low;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's `days_from_civil`): plain
 * arithmetic, and unlike `Date.UTC` it does not map years 0 to 99 onto 1900 to 1999.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function createdAtReason(code: number, text: string): string {
  const prefix =
    code === LEAP_SECOND
      ? CREATED_AT_LEAP_SECOND
      : code === OUT_OF_RANGE
        ? CREATED_AT_RANGE
        : code === NOT_CALENDAR
          ? CREATED_AT_CALENDAR
          : CREATED_AT_FORMAT;
  return prefix + describe(text);
}

// ---------------------------------------------------------------------------------------------------
// Reasons

/**
 * A short, one-line rendering of an offending value: strings are quoted with JSON escapes (so newlines
 * and quotes stay visible) and truncated to {@link QUOTE_LENGTH} characters; other values are named.
 */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    // JSON.stringify escapes control characters but leaves U+2028 and U+2029, which some readers split on.
    const quoted = (
      value.length > QUOTE_LENGTH
        ? `${JSON.stringify(value.slice(0, QUOTE_LENGTH))}...`
        : JSON.stringify(value)
    ).replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
    // Escapes can make a short string long ("\u0001" is six characters for one).
    return quoted.length > QUOTE_LENGTH * 2 ? `${quoted.slice(0, QUOTE_LENGTH * 2)}...` : quoted;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return oneLine(String(value), QUOTE_LENGTH);
}

function invalidJsonReason(error: unknown): string {
  const message = describeValue(error instanceof Error ? error.message : error);
  return `invalid JSON: ${oneLine(message, JSON_ERROR_LENGTH)}`;
}

/** Escapes line breaks and other control characters, then truncates to `max` characters. */
function oneLine(text: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is being escaped.
  const escaped = text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return escaped.length > max ? `${escaped.slice(0, max)}...` : escaped;
}
