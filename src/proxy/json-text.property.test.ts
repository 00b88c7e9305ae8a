import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { startsLikeJsonObject } from './json-text.ts';
import { readRequestFields } from './request-fields.ts';

// Property: backstop reads the same `model` from a JSON body as the upstream (Python's
// json.loads(bytes), behind vLLM's FastAPI) in every encoding that reader accepts, with any
// leading whitespace and any other fields, so no encoding is a way around MODELS. Seeded.

const RUNS = { seed: 20_261_004, numRuns: 500 };

const encodings: Record<string, (text: string) => Buffer> = {
  'utf-8': (t) => Buffer.from(t),
  'utf-8 BOM': (t) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(t)]),
  'utf-16le': (t) => Buffer.from(t, 'utf16le'),
  'utf-16le BOM': (t) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(t, 'utf16le')]),
  'utf-16be': (t) => Buffer.from(t, 'utf16le').swap16(),
  'utf-16be BOM': (t) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(t, 'utf16le').swap16()]),
  'utf-32le': (t) => utf32(t, true),
  'utf-32be BOM': (t) => Buffer.concat([Buffer.from([0, 0, 0xfe, 0xff]), utf32(t, false)]),
};

function utf32(text: string, littleEndian: boolean): Buffer {
  const codes = [...text].map((c) => c.codePointAt(0) as number);
  const out = Buffer.alloc(codes.length * 4);
  for (const [i, code] of codes.entries()) {
    if (littleEndian) out.writeUInt32LE(code, i * 4);
    else out.writeUInt32BE(code, i * 4);
  }
  return out;
}

test('the model is read the same in every encoding the upstream reads, whatever else the body holds', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
      fc.boolean(),
      fc.dictionary(
        fc.string({ maxLength: 8 }).filter((k) => k !== 'model' && k !== 'stream' && k !== '__proto__'),
        fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 4 },
      ),
      fc.stringMatching(/^[ \t\r\n]{0,4}$/),
      fc.constantFrom(...Object.keys(encodings)),
      (model, stream, extra, space, encoding) => {
        const text = `${space}${JSON.stringify({ ...extra, model, stream })}`;
        const body = (encodings[encoding] as (t: string) => Buffer)(text);
        assert.equal(startsLikeJsonObject(body), true, encoding);
        assert.deepEqual(readRequestFields(body), { ok: true, model, stream }, encoding);
      },
    ),
    RUNS,
  );
});
