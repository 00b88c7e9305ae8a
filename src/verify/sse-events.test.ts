import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endsEvent, eventData, lastEventEnd, NONE, nextEventEnd } from './sse-events.ts';
import { SseFirstEvent } from './sse-first-event.ts';

const LF = 0x0a;
const CR = 0x0d;
const X = 0x78;
const data = (text: string) => {
  const bytes = Buffer.from(text);
  return eventData(bytes, 0, bytes.length);
};

test('a blank line ends an event, for every line end of the grammar and its context', () => {
  assert.equal(endsEvent(LF, LF, X), true, 'LF LF');
  assert.equal(endsEvent(CR, CR, X), true, 'CR CR');
  assert.equal(endsEvent(CR, LF, X), true, 'LF CR');
  assert.equal(endsEvent(LF, CR, LF), true, 'LF CRLF');
  assert.equal(endsEvent(LF, CR, CR), true, 'CR CRLF');
  assert.equal(endsEvent(LF, CR, X), false, 'a CRLF that ends a line');
  assert.equal(endsEvent(LF, X, LF), false);
  assert.equal(endsEvent(X, LF, LF), false);
  assert.equal(endsEvent(LF, NONE, NONE), true, 'a blank line at the stream start (WHATWG)');
  assert.equal(endsEvent(CR, NONE, NONE), true, 'a CR blank line at the stream start');
  assert.equal(endsEvent(LF, CR, NONE), true, 'a CRLF blank line at the stream start');
});

test('the forward and backward scans find the same ends, with context from the chunk before', () => {
  const bytes = Buffer.from('data: a\r\n\r\nid: 1\r\rdata: b\n\n: c');
  const ends: number[] = [];
  for (let at = nextEventEnd(bytes, 0, NONE, NONE); at >= 0; at = nextEventEnd(bytes, at, NONE, NONE)) {
    ends.push(at);
  }
  assert.deepEqual(ends, [10, 11, 18, 27]);
  assert.equal(lastEventEnd(bytes, NONE, NONE), 27);
  // `\n` then `\r` in this chunk: the LF came in the chunk before.
  assert.equal(nextEventEnd(Buffer.from('\r'), 0, LF, X), 1);
  assert.equal(lastEventEnd(Buffer.from('\nx'), CR, CR), 1);
});

test('an event’s data: data fields joined, one space dropped, everything else ignored', () => {
  assert.equal(data('data: {"a":1}\n\n'), '{"a":1}');
  assert.equal(data('data:{"a":1}\r\n\r\n'), '{"a":1}');
  assert.equal(data('data:  two spaces\n\n'), ' two spaces');
  assert.equal(data('data: a\ndata: b\rdata\r\ndata: c\n\n'), 'a\nb\n\nc');
  assert.equal(data(': ping\nid: 7\nretry: 300\nevent: x\ndata: y\n\n'), 'y');
  assert.equal(data('datum: x\n data: x\nDATA: x\n\n'), '', 'field names are exact');
  assert.equal(data('data\n\n'), '', 'one empty data field dispatches nothing');
  assert.equal(data('data: a:b\n\n'), 'a:b');
  assert.equal(data('data: done\ndata: cut'), 'done', 'an unfinished line is not read');
  assert.equal(data('data: a\n\ndata: b\n\n'), 'a', 'the first blank line ends the event');
});

test('the first event: a BOM at the stream’s start, and comment-only events, are skipped', () => {
  const first = new SseFirstEvent();
  assert.equal(first.feed(Buffer.from([0xef, 0xbb])), undefined, 'a BOM cut in two');
  assert.equal(first.feed(Buffer.from([0xbf])), undefined);
  assert.equal(first.feed(Buffer.from(': hi\n\nid: 1\r\r')), undefined, 'events without data');
  assert.equal(first.feed(Buffer.from('data: x\r\n\r\ndata: y\n\n')), 'x');
  assert.equal(first.feed(Buffer.from('data: z\n\n')), 'x', 'the first stays the first');
  const late = new SseFirstEvent();
  late.feed(Buffer.from(': hi\n\n'));
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('data: x\n\n')]);
  assert.equal(late.feed(bytes), undefined, 'a BOM later is part of the field name');
});
