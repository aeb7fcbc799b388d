/**
 * Finds where an upstream page's records sit in its raw bytes, without building them: the
 * proxy passes records through as the vendor sent them, so parsing a 100 KB page only to
 * serialise it again would be most of its cost. The document is checked as it is walked —
 * structure, punctuation, literals, numbers, string escapes and control characters — so what
 * is spliced out is valid JSON (UTF-8 is the caller's check, on the whole page). Answers
 * undefined for anything that is not such a document; callers then parse it the ordinary way
 * and report that.
 */
export interface ScannedList {
  /** Start and end byte offsets of each record, in order: [start0, end0, start1, end1, …]. */
  spans: number[];
  /** The number at the top-level `totalProperty`, when asked for and present. */
  total: number | undefined;
}

const QUOTE = 34;
const COMMA = 44;
const COLON = 58;
const BACKSLASH = 92;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;

class NotJson extends Error {}
const notJson = new NotJson();

/**
 * `property` undefined: the document is the record array itself. Otherwise it is an
 * object whose `property` holds the records; a missing property means no records, as in `recordsAt`.
 */
export function scanList(bytes: Uint8Array, property: string | undefined, totalProperty?: string): ScannedList | undefined {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    let i = space(buffer, startOf(buffer));
    const spans: number[] = [];
    let total: number | undefined;
    if (property === undefined) {
      if (buffer[i] !== OPEN_ARRAY) return undefined;
      i = array(buffer, i, spans);
    } else {
      if (buffer[i] !== OPEN_OBJECT) return undefined;
      i = space(buffer, i + 1);
      if (buffer[i] === CLOSE_OBJECT) i++;
      else {
        for (;;) {
          if (buffer[i] !== QUOTE) throw notJson;
          const keyEnd = string(buffer, i);
          const key = buffer.toString("latin1", i + 1, keyEnd - 1);
          // An escaped key ("\u0052esources") is compared only after decoding: leave that to JSON.parse.
          if (key.includes("\\")) return undefined;
          i = space(buffer, keyEnd);
          if (buffer[i] !== COLON) throw notJson;
          i = space(buffer, i + 1);
          const start = i;
          if (key === property) {
            // Duplicate keys: the last one counts, as in JSON.parse.
            // Stryker disable next-line ConditionalExpression: equivalent, array() refuses anything but "[" too.
            if (buffer[i] !== OPEN_ARRAY) return undefined;
            spans.length = 0;
            i = array(buffer, i, spans);
          } else {
            i = value(buffer, i);
            if (key === totalProperty) {
              const raw = buffer.toString("latin1", start, i);
              // A total sent as a string ("100") counts too, as Number() reads it from the parsed body;
              // null and anything else that is no number is NaN here, so no total.
              // Stryker disable next-line MethodExpression: equivalent, a value that starts with a quote ends with one.
              total = Number(raw.startsWith('"') ? raw.slice(1, -1) : raw);
            }
          }
          i = space(buffer, i);
          if (buffer[i] === COMMA) i = space(buffer, i + 1);
          else if (buffer[i] === CLOSE_OBJECT) {
            i++;
            break;
          } else throw notJson;
        }
      }
    }
    if (space(buffer, i) !== buffer.length) return undefined;
    return { spans, total: Number.isFinite(total) ? total : undefined };
  } catch (error) {
    // Stryker disable next-line ConditionalExpression: equivalent, nothing in the scan throws anything else.
    if (error === notJson) return undefined;
    throw error;
  }
}

/** Where the text starts: after a UTF-8 byte-order mark, which a text decoder skips too. */
export function startOf(b: Uint8Array): number {
  return b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
}

function space(b: Buffer, i: number): number {
  for (;;) {
    const c = b[i];
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return i;
  }
}

const isHex = (c: number | undefined) => c !== undefined && ((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102));

/**
 * `b[i]` is a quote; answers the offset after the closing one. Every escape must be one JSON
 * allows and no control character may stand raw: a spliced string is then valid JSON, as a
 * parsed one would be. (One byte at a time: finding quotes with indexOf was faster, but let
 * `"\x"` and raw newlines through to the caller.)
 */
function string(b: Buffer, i: number): number {
  for (let j = i + 1; ; j++) {
    const c = b[j];
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) {
      const escaped = b[j + 1];
      if (escaped === 117) {
        if (!(isHex(b[j + 2]) && isHex(b[j + 3]) && isHex(b[j + 4]) && isHex(b[j + 5]))) throw notJson;
        j += 5;
      } else if (
        escaped === QUOTE ||
        escaped === BACKSLASH ||
        escaped === 47 ||
        escaped === 98 ||
        escaped === 102 ||
        escaped === 110 ||
        escaped === 114 ||
        escaped === 116
      ) {
        j += 1;
      } else throw notJson;
    } else if (c === undefined || c < 32) throw notJson;
  }
}

function value(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) return string(b, i);
  if (c === OPEN_OBJECT) return object(b, i);
  if (c === OPEN_ARRAY) return array(b, i, undefined);
  if (c === 116) return literal(b, i, TRUE);
  if (c === 102) return literal(b, i, FALSE);
  if (c === 110) return literal(b, i, NULL);
  return number(b, i);
}

const TRUE = Buffer.from("true");
const FALSE = Buffer.from("false");
const NULL = Buffer.from("null");

function literal(b: Buffer, i: number, word: Buffer): number {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) throw notJson;
  return i + word.length;
}

const isDigit = (c: number | undefined) => c !== undefined && c >= 48 && c <= 57;

/** -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, byte by byte. */
function number(b: Buffer, i: number): number {
  if (b[i] === 45) i++;
  if (b[i] === 48) i++;
  else if (isDigit(b[i])) while (isDigit(b[i])) i++;
  else throw notJson;
  if (b[i] === 46) {
    i++;
    if (!isDigit(b[i])) throw notJson;
    while (isDigit(b[i])) i++;
  }
  if (b[i] === 101 || b[i] === 69) {
    i++;
    if (b[i] === 43 || b[i] === 45) i++;
    if (!isDigit(b[i])) throw notJson;
    while (isDigit(b[i])) i++;
  }
  return i;
}

function object(b: Buffer, i: number): number {
  i = space(b, i + 1);
  if (b[i] === CLOSE_OBJECT) return i + 1;
  for (;;) {
    if (b[i] !== QUOTE) throw notJson;
    i = space(b, string(b, i));
    if (b[i] !== COLON) throw notJson;
    i = space(b, value(b, space(b, i + 1)));
    if (b[i] === COMMA) i = space(b, i + 1);
    else if (b[i] === CLOSE_OBJECT) return i + 1;
    else throw notJson;
  }
}

/** Walks an array; with `spans`, notes where each element starts and ends. */
function array(b: Buffer, i: number, spans: number[] | undefined): number {
  i = space(b, i + 1);
  if (b[i] === CLOSE_ARRAY) return i + 1;
  for (;;) {
    const start = i;
    i = value(b, i);
    spans?.push(start, i);
    i = space(b, i);
    if (b[i] === COMMA) i = space(b, i + 1);
    else if (b[i] === CLOSE_ARRAY) return i + 1;
    else throw notJson;
  }
}
