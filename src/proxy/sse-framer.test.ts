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

test('a CRLF split after its CR is one line end: the LF after a boundary goes out, not held', () => {
  // `\n\r` ends the event at the CR; the LF that follows completes that CRLF.
  const { out, held } = run(['data: x\n\r', '\n', 'data: y']);
  assert.deepEqual(out, ['data: x\n\r', '\n', '']);
  assert.equal(held, 'data: y');
  // A CR that only ends a line is no boundary, even when its LF comes in the next chunk.
  assert.deepEqual(run(['data: x\r', '\ndata: y']), { out: ['', ''], held: 'data: x\r\ndata: y' });
  assert.deepEqual(run(['data: x\r', '\n', '\r\n']).out, ['', '', 'data: x\r\n\r\n']);
});

test('an unfinished event larger than the bound overflows; the events before it still go out', () => {
  const framer = new SseFramer(1024);
  assert.equal(framer.push(Buffer.from('data: ok\n\ndata: ')).toString(), 'data: ok\n\n');
  assert.equal(framer.overflowed, false);
  const piece = Buffer.alloc(100, 'a');
  const overflowed = (): boolean => framer.overflowed;
  let pushes = 0;
  while (!overflowed() && pushes < 100) {
    assert.equal(framer.push(piece).length, 0, 'nothing of the unfinished event goes out');
    pushes += 1;
  }
  assert.equal(pushes, 11, 'it overflows as soon as it holds more than the bound');
  assert.equal(framer.pendingBytes, 6 + 11 * 100);
});

test('an event of exactly the bound does not overflow, and a finished event resets the count', () => {
  const framer = new SseFramer(16);
  framer.push(Buffer.from('data: 0123456789'));
  assert.equal(framer.pendingBytes, 16);
  assert.equal(framer.overflowed, false);
  assert.equal(framer.push(Buffer.from('\n\ndata: a')).toString(), 'data: 0123456789\n\n');
  assert.equal(framer.pendingBytes, 7);
  assert.equal(framer.overflowed, false);
});

test('holding a large event costs linear time: each byte is scanned once and copied once', () => {
  // 32 MiB in 4 KiB chunks. Re-copying and rescanning what is held at every chunk (the quadratic
  // framer of issue 10) would move ~128 GiB; linear work is ~64 MiB and takes milliseconds.
  const MiB = 1_048_576;
  const framer = new SseFramer(64 * MiB);
  const piece = Buffer.alloc(4096, 'a');
  const started = performance.now();
  framer.push(Buffer.from('data: "'));
  let pushed = 0;
  while (pushed < 32 * MiB && performance.now() - started < 5000) {
    assert.equal(framer.push(piece).length, 0);
    pushed += piece.length;
  }
  const out = framer.push(Buffer.from('"\n\n'));
  const ms = performance.now() - started;
  assert.equal(pushed, 32 * MiB, `only ${pushed / MiB} MiB pushed within 5 s`);
  assert.equal(out.length, 7 + 32 * MiB + 3, 'the whole event goes out at its blank line');
  assert.ok(ms < 5000, `${ms.toFixed(0)} ms`);
});
