/**
 * A request body as the upstream's JSON reader sees it. vLLM's server is FastAPI: it parses a body
 * with no content-type (or `application/json`, `application/*+json`) with Python's
 * `json.loads(bytes)`, which detects the encoding first (`json.detect_encoding`): a UTF-8 BOM is
 * skipped, UTF-16 and UTF-32 (with or without a BOM) are decoded. Reading such a body as plain
 * UTF-8 would miss its `model`, and so its MODELS check (issue 10). Python's `json` also takes
 * `NaN` and `Infinity`, which `JSON.parse` does not: see `startsLikeJsonObject`.
 */
type Encoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'utf-32le' | 'utf-32be';

const BRACE = 0x7b;

/** The body's text, decoded as Python's `json.loads(bytes)` decodes it. */
export function jsonText(body: Buffer): string {
  const { encoding, bom } = detectEncoding(body);
  const bytes = body.subarray(bom);
  switch (encoding) {
    case 'utf-8':
      return bytes.toString('utf8');
    case 'utf-16le':
      return bytes.toString('utf16le');
    case 'utf-16be':
      return Buffer.from(bytes.subarray(0, bytes.length & ~1))
        .swap16()
        .toString('utf16le');
    default:
      return utf32(bytes, encoding === 'utf-32le');
  }
}

/**
 * True when the body's first character (after JSON whitespace, in its detected encoding) is `{`:
 * the upstream would read it as a JSON object, whether or not `JSON.parse` can. Cheap for UTF-8:
 * no copy, and it stops at the first other byte.
 */
export function startsLikeJsonObject(body: Buffer): boolean {
  const { encoding, bom } = detectEncoding(body);
  if (encoding !== 'utf-8') return /^[ \t\n\r]*\{/.test(jsonText(body));
  for (let i = bom; i < body.length; i++) {
    const c = body[i];
    if (c === BRACE) return true;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return false;
}

/** Python's `json.detect_encoding`, with the length of the BOM to skip. */
function detectEncoding(b: Buffer): { encoding: Encoding; bom: number } {
  const [b0, b1, b2, b3] = [b[0], b[1], b[2], b[3]];
  if (b0 === 0x00 && b1 === 0x00 && b2 === 0xfe && b3 === 0xff) return { encoding: 'utf-32be', bom: 4 };
  if (b0 === 0xff && b1 === 0xfe && b2 === 0x00 && b3 === 0x00) return { encoding: 'utf-32le', bom: 4 };
  if (b0 === 0xfe && b1 === 0xff) return { encoding: 'utf-16be', bom: 2 };
  if (b0 === 0xff && b1 === 0xfe) return { encoding: 'utf-16le', bom: 2 };
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) return { encoding: 'utf-8', bom: 3 };
  if (b.length >= 4) {
    // 00 00 -- -- utf-32-be; 00 XX -- -- utf-16-be; XX 00 00 00 utf-32-le; XX 00 -- -- utf-16-le
    if (b0 === 0x00) return { encoding: b1 !== 0x00 ? 'utf-16be' : 'utf-32be', bom: 0 };
    if (b1 === 0x00) return { encoding: b2 !== 0x00 || b3 !== 0x00 ? 'utf-16le' : 'utf-32le', bom: 0 };
  } else if (b.length === 2) {
    if (b0 === 0x00) return { encoding: 'utf-16be', bom: 0 };
    if (b1 === 0x00) return { encoding: 'utf-16le', bom: 0 };
  }
  return { encoding: 'utf-8', bom: 0 };
}

function utf32(bytes: Buffer, littleEndian: boolean): string {
  let text = '';
  for (let i = 0; i + 4 <= bytes.length; i += 4) {
    const code = littleEndian ? bytes.readUInt32LE(i) : bytes.readUInt32BE(i);
    // Python raises on a code point past U+10FFFF; the replacement character keeps it unreadable here.
    text += code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
  }
  return text;
}
