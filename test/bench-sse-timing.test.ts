import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSseReader, readChunk, tokenTiming } from '../bench/load/sse-timing.ts';

describe('bench SSE timing', () => {
  it('computes TTFT, TPOT and inter-token latency by hand', () => {
    // Request at t=1000; five tokens at 1250, 1270, 1290, 1330, 1350.
    const t = tokenTiming(1000, [1250, 1270, 1290, 1330, 1350]);
    assert.equal(t.ttftMs, 250);
    // TPOT = (1350 - 1250) / (5 - 1) = 25
    assert.equal(t.tpotMs, 25);
    assert.deepEqual(t.itlMs, [20, 20, 40, 20]);
    assert.equal(t.tokens, 5);
  });

  it('uses the server token count when one event carried several tokens', () => {
    // Three events, but usage says 9 tokens: TPOT = (400 - 100) / (9 - 1) = 37.5
    const t = tokenTiming(0, [100, 250, 400], 9);
    assert.equal(t.tpotMs, 37.5);
    assert.deepEqual(t.itlMs, [150, 150]);
  });

  it('has no TPOT for one token and no TTFT for none', () => {
    assert.equal(tokenTiming(0, [80]).tpotMs, null);
    assert.equal(tokenTiming(0, [80]).ttftMs, 80);
    assert.deepEqual(tokenTiming(0, []), { ttftMs: null, tpotMs: null, itlMs: [], tokens: 0 });
  });

  it('stamps each event with the arrival of the chunk that completed it, across split chunks and CRLF', () => {
    const reader = createSseReader();
    assert.deepEqual(reader.feed('data: {"a":1}\n\nda', 10), [{ data: '{"a":1}', t: 10 }]);
    assert.deepEqual(reader.feed('ta: {"b":2}\r', 20), []);
    // The lone CR above may be half a CRLF: the event completes only now.
    assert.deepEqual(reader.feed('\n\r\n: ping\n\ndata: [DONE]\n\n', 30), [
      { data: '{"b":2}', t: 30 },
      { data: '[DONE]', t: 30 },
    ]);
  });

  it('joins multi-line data and reads completions and chat chunks', () => {
    const reader = createSseReader();
    assert.deepEqual(reader.feed('data:x\ndata: y\n\n', 1), [{ data: 'x\ny', t: 1 }]);
    assert.deepEqual(readChunk('{"model":"m","choices":[{"text":"Hi"}]}'), {
      model: 'm',
      text: 'Hi',
      completionTokens: undefined,
    });
    assert.deepEqual(readChunk('{"model":"m","choices":[{"delta":{"content":"yo"}}]}')?.text, 'yo');
    assert.equal(
      readChunk('{"model":"m","choices":[],"usage":{"completion_tokens":50}}')?.completionTokens,
      50,
    );
    assert.equal(readChunk('[DONE]'), undefined);
    assert.equal(readChunk('not json'), undefined);
  });
});
