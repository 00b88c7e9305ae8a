import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { split } from '../../test/support/byte-splits.ts';
import { SseFramer } from './sse-framer.ts';

// Property: whatever the chunk splits, line ends and field kinds, the bytes the framer lets out
// are exactly the whole events in, in order, and every push ends on an event boundary; what it
// holds at the end is the unfinished tail. Seeded: the same cases on every run.

const RUNS = { seed: 20_261_001, numRuns: 1000 };

type Eol = '\n' | '\r' | '\r\n';
const eol = fc.constantFrom<Eol>('\n', '\r', '\r\n');
/** Field text: anything but CR and LF, multi-byte characters included (splits land inside them). */
const text = fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => s.replace(/[\r\n]/g, ''));
/** One line of the SSE grammar, without its line end; never empty (an empty line ends the event). */
const line = fc.oneof(
  text.map((t) => `data: ${t}`),
  text.map((t) => `data:${t}`),
  fc.constant('data'),
  text.map((t) => `id: ${t}`),
  fc.nat({ max: 99_999 }).map((n) => `retry: ${n}`),
  text.map((t) => `event: ${t}`),
  text.map((t) => `: ${t}`),
  fc.constant(':'),
);

interface Event {
  lines: [string, Eol][];
  blank: Eol;
}

const event = fc
  .record({ lines: fc.array(fc.tuple(line, eol), { minLength: 1, maxLength: 4 }), blank: eol })
  // A line ended by CR followed by a blank line that is a lone LF is one CRLF, not a blank line:
  // that text is one longer event, not this one.
  .filter(({ lines, blank }) => !(lines.at(-1)?.[1] === '\r' && blank === '\n'));

const render = (e: Event): string => `${e.lines.map(([l, end]) => l + end).join('')}${e.blank}`;

/** Offsets (in bytes) where an event may be cut: its end, and between the CR and LF of a CRLF blank. */
function boundaries(events: Event[]): Set<number> {
  const cuts = new Set([0]);
  let offset = 0;
  for (const e of events) {
    offset += Buffer.byteLength(render(e));
    cuts.add(offset);
    if (e.blank === '\r\n') cuts.add(offset - 1);
  }
  return cuts;
}

test('bytes out are the whole events in, in order, cut only at event boundaries, for any split', () => {
  fc.assert(
    fc.property(
      fc.array(event, { maxLength: 6 }),
      // An unfinished last event: some of its lines, cut anywhere.
      fc.option(fc.tuple(event, fc.nat())),
      fc.array(fc.nat(), { maxLength: 12 }),
      (events, partial, positions) => {
        const whole = Buffer.from(events.map(render).join(''));
        let tail = Buffer.alloc(0);
        if (partial !== null) {
          const [e, cut] = partial;
          const lines = Buffer.from(e.lines.map(([l, end]) => l + end).join(''));
          tail = lines.subarray(0, cut % (lines.length + 1));
        }
        const input = Buffer.concat([whole, tail]);
        const cuts = boundaries(events);
        const framer = new SseFramer();
        const out: Buffer[] = [];
        let sent = 0;
        for (const chunk of split(input, positions)) {
          const piece = framer.push(chunk);
          out.push(piece);
          sent += piece.length;
          assert.ok(cuts.has(sent), `a push ended at byte ${sent}, inside an event`);
        }
        assert.equal(Buffer.concat(out).toString('latin1'), whole.toString('latin1'));
        assert.equal(framer.takePending().toString('latin1'), tail.toString('latin1'));
        assert.equal(framer.overflowed, false);
      },
    ),
    RUNS,
  );
});

test('an unfinished event overflows exactly when it holds more than the bound', () => {
  fc.assert(
    fc.property(
      fc.array(event, { maxLength: 3 }),
      fc.integer({ min: 1, max: 200 }),
      fc.integer({ min: 0, max: 400 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      (events, bound, size, positions) => {
        const whole = Buffer.from(events.map(render).join(''));
        const tail = Buffer.alloc(size, 'a');
        const framer = new SseFramer(bound);
        let out = 0;
        for (const chunk of split(Buffer.concat([whole, tail]), positions)) {
          out += framer.push(chunk).length;
        }
        assert.equal(out, whole.length);
        assert.equal(framer.pendingBytes, size);
        assert.equal(framer.overflowed, size > bound);
      },
    ),
    RUNS,
  );
});
