import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseFramer } from './sse-framer.ts';

/** Pushes `pieces` through a framer; returns what went out after each push, and what is held. */
function run(pieces: string[]): { out: string[]; held: string } {
  const framer = new SseFramer();
  const out = pieces.map((p) => framer.push(Buffer.from(p)).toString());
  return { out, held: framer.takePending().toString() };
}

test('whole events pass at once, unchanged', () => {
  assert.deepEqual(run(['data: {"a":1}\n\n', 'data: {"b":2}\n\ndata: [DONE]\n\n']), {
    out: ['data: {"a":1}\n\n', 'data: {"b":2}\n\ndata: [DONE]\n\n'],
    held: '',
  });
});

test('a partial event is held until its blank line arrives, then goes out byte for byte', () => {
  const event = 'data: {"a":1}\r\n\r\n';
  const { out, held } = run([...event.split(''), ': ping\r\n\r\n']);
  // The blank line's CR already ends the event (a lone CR is a line end; a parser drops the LF after it).
  const complete = event.indexOf('\r\n\r') + 3;
  assert.equal(out.slice(0, complete - 1).join(''), '', 'nothing before the event is complete');
  assert.equal(out[complete - 1], event.slice(0, complete));
  assert.equal(out.join(''), `${event}: ping\r\n\r\n`, 'the bytes are the upstream bytes');
  assert.equal(held, '');
});

test('every line ending of the SSE grammar ends an event: LF, CRLF, CR, and mixes', () => {
  for (const boundary of ['\n\n', '\r\n\r\n', '\r\r', '\n\r\n', '\r\n\n', '\r\r\n']) {
    const { out, held } = run([`data: x${boundary}data: partial`]);
    assert.equal(out[0], `data: x${boundary}`, JSON.stringify(boundary));
    assert.equal(held, 'data: partial');
  }
});

test('a stream cut mid-event keeps the cut part back', () => {
  const { out, held } = run(['data: {"a":1}\n\ndata: {"id":"c1","obj', 'ect":"chat.compl']);
  assert.deepEqual(out, ['data: {"a":1}\n\n', '']);
  assert.equal(held, 'data: {"id":"c1","object":"chat.compl');
});
