import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { split } from '../../test/support/byte-splits.ts';
import { classifyAttempt, createModelMatcher, SseFirstEvent, STREAM_ENDED } from '../verify/index.ts';
import { SseFramer } from './sse-framer.ts';
import { StreamTail } from './stream-tail.ts';

// Property: the three readers of an SSE stream (the first-event peek, the relay framer, the
// stream tail) share one parser, so on the same bytes, cut anywhere, they agree with each other
// and with the events that were written: the framer lets out exactly the whole events, in order;
// the peek finds the first event that carries data and its verdict does not depend on the cuts;
// the tail says `[DONE]` exactly when the last data is `[DONE]`. The streams mix CR, LF and CRLF,
// comments, `id:` / `retry:` / `event:` lines, multi-line data, a BOM and an unfinished last
// event. Seeded: the same cases on every run.

const RUNS = { seed: 20_261_201, numRuns: 1500 };
/** What StreamTail keeps; a `[DONE]` that starts within its last TAIL - 3 bytes is recognised. */
const TAIL = 64;
const BOM = '\uFEFF';

type Eol = '\n' | '\r' | '\r\n';
const eol = fc.constantFrom<Eol>('\n', '\r', '\r\n');
/** Field text: anything but CR and LF, multi-byte characters included (cuts land inside them). */
const text = fc.string({ unit: 'grapheme', maxLength: 10 }).map((s) => s.replace(/[\r\n]/g, ''));
/** What a data line carries: chunks of the requested model or another, errors, `[DONE]`, noise. */
const payload = fc.oneof(
  fc.constantFrom('{"model":"phi"}', '{"model":"gemma"}', '{"error":{"code":500}}', '[DONE]', '[DONE]', ''),
  text,
);

/** One line of the SSE grammar, without its line end, and the data value it carries, if any. */
interface Line {
  text: string;
  data?: string;
}
const line: fc.Arbitrary<Line> = fc.oneof(
  payload.map((p) => ({ text: `data: ${p}`, data: p })),
  payload.map((p) => ({ text: `data:${p}`, data: p.startsWith(' ') ? p.slice(1) : p })),
  fc.constant({ text: 'data', data: '' }),
  text.map((t) => ({ text: `id: ${t}` })),
  fc.nat({ max: 99_999 }).map((n) => ({ text: `retry: ${n}` })),
  text.map((t) => ({ text: `event: ${t}` })),
  text.map((t) => ({ text: `: ${t}` })),
  fc.constant({ text: ':' }),
  // Not a data field: the name is everything before the colon.
  payload.map((p) => ({ text: `datum: ${p}` })),
  payload.map((p) => ({ text: ` data: ${p}` })),
);

interface Event {
  lines: [Line, Eol][];
  blank: Eol;
}
const event = fc
  .record({ lines: fc.array(fc.tuple(line, eol), { minLength: 1, maxLength: 4 }), blank: eol })
  // A line ended by CR followed by a blank line that is a lone LF is one CRLF, not a blank line.
  .filter(({ lines, blank }) => !(lines.at(-1)?.[1] === '\r' && blank === '\n'));

const linesText = (e: Event): string => e.lines.map(([l, end]) => l.text + end).join('');
/** The data an event dispatches: its data values joined with LF ('' when none). */
const dataOf = (lines: Line[]): string => {
  const values = lines.flatMap((l) => (l.data === undefined ? [] : [l.data]));
  return values.length === 0 ? '' : values.join('\n');
};

const expect = { model: 'phi', matches: createModelMatcher(new Map()) };
const SSE = { 'content-type': 'text/event-stream' };

/** What the three readers make of `chunks`. */
function read(chunks: Buffer[]) {
  const first = new SseFirstEvent();
  const framer = new SseFramer();
  const tail = new StreamTail();
  let data: string | undefined;
  const out: Buffer[] = [];
  for (const chunk of chunks) {
    data ??= first.feed(chunk);
    tail.push(chunk);
    out.push(framer.push(chunk));
  }
  const verdict = classifyAttempt(expect, 200, SSE, data ?? STREAM_ENDED, 0);
  return { data, verdict, out: Buffer.concat(out), pending: framer.takePending(), done: tail.done };
}

test('the peek, the framer and the tail agree on any stream, cut anywhere', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      // A blank line before the first event (WHATWG: it dispatches nothing).
      fc.option(eol),
      fc.array(event, { maxLength: 6 }),
      // An unfinished last event: some of its lines, cut anywhere.
      fc.option(fc.tuple(event, fc.nat())),
      fc.array(fc.nat(), { maxLength: 12 }),
      (bom, leading, events, partial, positions) => {
        const prefix = bom ? BOM : '';
        const lead = events.length > 0 && leading !== null ? leading : '';
        // The BOM opens the stream: the first event's, else the unfinished one's.
        const whole = Buffer.from(
          (events.length > 0 ? prefix + lead : '') + events.map((e) => linesText(e) + e.blank).join(''),
        );
        // The events' data, and where each starts in bytes (the BOM belongs to the first).
        const written: { data: string; start: number }[] = [];
        let offset = 0;
        for (const [i, e] of events.entries()) {
          written.push({ data: dataOf(e.lines.map(([l]) => l)), start: offset });
          offset += Buffer.byteLength((i === 0 ? prefix + lead : '') + linesText(e) + e.blank);
        }
        let rest = Buffer.from(events.length === 0 ? prefix : '');
        if (partial !== null) {
          const [e, cut] = partial;
          const bytes = Buffer.from((events.length === 0 ? prefix : '') + linesText(e));
          rest = bytes.subarray(0, cut % (bytes.length + 1));
          // Its lines count once their line end has begun (a CR ends a line; its LF may follow).
          const complete: Line[] = [];
          let end = events.length === 0 ? Buffer.byteLength(prefix) : 0;
          for (const [l, lineEnd] of e.lines) {
            end += Buffer.byteLength(l.text);
            if (end + 1 <= rest.length) complete.push(l);
            end += lineEnd.length;
          }
          written.push({ data: dataOf(complete), start: offset });
        }
        const input = Buffer.concat([whole, rest]);

        const got = read(split(input, positions));
        // The framer: exactly the whole events out, the unfinished one held.
        assert.equal(got.out.toString('latin1'), whole.toString('latin1'), 'framer: bytes out');
        assert.equal(got.pending.toString('latin1'), rest.toString('latin1'), 'framer: held');
        // The peek: the first complete event that carries data, whatever the cuts.
        const firstData = written.slice(0, events.length).find((w) => w.data !== '')?.data;
        assert.equal(got.data, firstData, 'peek: first data');
        assert.deepEqual(got.verdict, read([input]).verdict, 'peek: the verdict does not depend on the cuts');
        // The tail: the last data, if it starts within what the tail keeps.
        const last = written.findLast((w) => w.data !== '');
        const kept = input.length <= TAIL || (last !== undefined && input.length - last.start <= TAIL - 3);
        assert.equal(got.done, last?.data === '[DONE]' && kept, 'tail: [DONE]');
        // A client reading only what the framer let out sees the same first event.
        assert.equal(read([got.out]).data, got.data, 'relayed: first data');
      },
    ),
    RUNS,
  );
});
