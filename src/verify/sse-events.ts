/**
 * The SSE event grammar (WHATWG HTML, "Parsing an event stream") on bytes: the one parser that the
 * first-event peek, the relay framer and the stream tail share, so they cannot disagree on where
 * an event ends or what it carries (issue 10). It works on bytes, not text: the framer relays the
 * upstream's exact bytes and needs byte offsets, and CR and LF never occur inside a multi-byte
 * UTF-8 sequence, so lines split the same way before and after decoding. Only a field's value is
 * ever decoded, once.
 */

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
/** Before the first byte of a stream there is no byte: `NONE` stands for it. */
export const NONE = -1;

/**
 * True when byte `c`, after the bytes `b1` and `b2` (`NONE` before the stream), ends an event: it
 * is the last byte of a blank line. Lines end in CRLF, LF or CR; a blank line is a line end right
 * after another line end, or at the stream's very start (WHATWG: a leading blank line dispatches
 * nothing, and the next event is read as usual). A blank line ended by CRLF ends its event at the CR already (a parser
 * cannot wait for an LF that may never come) and again at its LF, so an event may be cut after
 * either. Three bytes of context decide it, wherever a chunk was cut: a CR followed by an LF is
 * always one line end, so the byte before tells which line end `c` belongs to.
 */
export function endsEvent(c: number, b1: number, b2: number): boolean {
  if (c === CR) return isLineStart(b1);
  if (c !== LF) return false;
  return b1 === LF || b1 === NONE || (b1 === CR && isLineStart(b2));
}

/** True when a line starts after byte `b`: after a line end, or at the stream's start. */
function isLineStart(b: number): boolean {
  return b === LF || b === CR || b === NONE;
}

/** `bytes[i]`, reaching into the two bytes before the chunk (`p1` just before, then `p2`). */
function byteAt(bytes: Uint8Array, i: number, p1: number, p2: number): number {
  return i >= 0 ? (bytes[i] as number) : i === -1 ? p1 : p2;
}

/**
 * Index just past the last event end in `bytes` (0 when there is none), where `p1` and `p2` are
 * the two bytes before it. Scanned from the end: in a healthy stream a chunk ends with its blank
 * line, so this costs a couple of steps.
 */
export function lastEventEnd(bytes: Uint8Array, p1: number, p2: number): number {
  for (let i = bytes.length - 1; i >= 0; i--) {
    const c = bytes[i] as number;
    if ((c === LF || c === CR) && endsEvent(c, byteAt(bytes, i - 1, p1, p2), byteAt(bytes, i - 2, p1, p2))) {
      return i + 1;
    }
  }
  return 0;
}

/** Index just past the first event end in `bytes` at or after `from` (-1 when there is none). */
export function nextEventEnd(bytes: Uint8Array, from: number, p1: number, p2: number): number {
  for (let i = from; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if ((c === LF || c === CR) && endsEvent(c, byteAt(bytes, i - 1, p1, p2), byteAt(bytes, i - 2, p1, p2))) {
      return i + 1;
    }
  }
  return -1;
}

/** The last byte of `bytes` after `p1` (what becomes `p1` for the next chunk). */
export function lastByte(bytes: Uint8Array, p1: number): number {
  return bytes.length > 0 ? (bytes[bytes.length - 1] as number) : p1;
}

/** The byte before the last one of `bytes`, after `p1` and `p2` (the next chunk's `p2`). */
export function byteBeforeLast(bytes: Uint8Array, p1: number, p2: number): number {
  return byteAt(bytes, bytes.length - 2, p1, p2);
}

/** Length of a UTF-8 byte order mark at `start` (3), else 0: one is ignored at a stream's start. */
export function bomLength(bytes: Uint8Array, start: number, end: number): number {
  return end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf
    ? 3
    : 0;
}

/**
 * The data an event dispatches: its `data` fields' values joined with LF, `''` when it dispatches
 * nothing (no `data` field, or only empty ones: WHATWG drops such an event). `bytes[start, end)`
 * holds the event from its first line; an unfinished last line (no line end yet) is not read, and
 * the first blank line ends the event. A field name is everything before the first colon (the
 * whole line when there is none), and one space after the colon is dropped; comments (`:` first),
 * `id:`, `retry:`, `event:` and unknown fields carry no data. The caller skips a stream's BOM.
 */
export function eventData(bytes: Buffer, start: number, end: number): string {
  let data: string | undefined;
  let i = start;
  while (i < end) {
    let eol = i;
    while (eol < end && bytes[eol] !== LF && bytes[eol] !== CR) eol++;
    if (eol === end || eol === i) break;
    if (isDataField(bytes, i, eol)) {
      let value = i + 4;
      if (value < eol) value += bytes[value + 1] === SPACE ? 2 : 1;
      const text = bytes.toString('utf8', value, eol);
      data = data === undefined ? text : `${data}\n${text}`;
    }
    i = bytes[eol] === CR && eol + 1 < end && bytes[eol + 1] === LF ? eol + 2 : eol + 1;
  }
  return data ?? '';
}

/** True when the line `bytes[i, eol)` is a `data` field: `data`, then a colon or the line's end. */
function isDataField(bytes: Uint8Array, i: number, eol: number): boolean {
  return (
    eol - i >= 4 &&
    bytes[i] === 0x64 &&
    bytes[i + 1] === 0x61 &&
    bytes[i + 2] === 0x74 &&
    bytes[i + 3] === 0x61 &&
    (eol === i + 4 || bytes[i + 4] === COLON)
  );
}
