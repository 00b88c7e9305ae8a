import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonText, startsLikeJsonObject } from './json-text.ts';
import { readRequestFields } from './request-fields.ts';

const body = '{"model":"gpt-4o","stream":true}';
const utf32 = (text: string, littleEndian: boolean): Buffer => {
  const codes = [...text].map((c) => c.codePointAt(0) as number);
  const out = Buffer.alloc(codes.length * 4);
  codes.forEach((code, i) => {
    if (littleEndian) out.writeUInt32LE(code, i * 4);
    else out.writeUInt32BE(code, i * 4);
  });
  return out;
};
const utf16be = (text: string): Buffer => Buffer.from(text, 'utf16le').swap16();

// The encodings Python's json.loads(bytes) reads (json.detect_encoding), as vLLM's FastAPI does.
const spellings: [string, Buffer][] = [
  ['UTF-8', Buffer.from(body)],
  ['UTF-8 with a BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)])],
  ['UTF-16LE', Buffer.from(body, 'utf16le')],
  ['UTF-16LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, 'utf16le')])],
  ['UTF-16BE', utf16be(body)],
  ['UTF-16BE with a BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(body)])],
  ['UTF-32LE', utf32(body, true)],
  ['UTF-32BE with a BOM', Buffer.concat([Buffer.from([0, 0, 0xfe, 0xff]), utf32(body, false)])],
  ['UTF-16LE, leading whitespace', Buffer.from(` \r\n\t${body}`, 'utf16le')],
];

test('a JSON body is decoded as the upstream decodes it: BOM, UTF-16 and UTF-32', () => {
  for (const [name, bytes] of spellings) {
    assert.equal(jsonText(bytes).trim(), body, name);
    assert.equal(startsLikeJsonObject(bytes), true, name);
    assert.deepEqual(readRequestFields(bytes), { ok: true, model: 'gpt-4o', stream: true }, name);
  }
  assert.equal(jsonText(Buffer.from('{"model":"modèle-é"}')), '{"model":"modèle-é"}');
  assert.equal(jsonText(utf32('{"model":"🦙"}', true)), '{"model":"🦙"}');
});

test('only a body whose first character is `{` starts like a JSON object', () => {
  for (const text of ['{', '  \n{"a"', '{"model": NaN}']) {
    assert.equal(startsLikeJsonObject(Buffer.from(text)), true, text);
  }
  for (const text of ['', ' ', '[{"model":"x"}]', 'model=x', '"{"', '\u00a0{', '--boundary\r\n{']) {
    assert.equal(startsLikeJsonObject(Buffer.from(text)), false, JSON.stringify(text));
  }
  assert.equal(startsLikeJsonObject(Buffer.from([0x00])), false);
  assert.equal(startsLikeJsonObject(Buffer.from('[', 'utf16le')), false);
});
